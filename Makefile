# tessera — one binary that serves the dashboard, its images and its API.
# Targets: all test run deps assets bench asan fuzz install clean (see README.md).

BUILD    ?= build
PREFIX   ?= /usr/local
DESTDIR  ?=
MODE     ?= development
CC       ?= gcc

# LAZY_PKGS are compiled against but not linked: include/tessera/lazy_lib.h opens them with
# dlopen on first use (they pull in ~70 shared libraries; linked, those cost ~10 MB of RSS
# at start-up). Their SONAMEs are read off this machine's libraries so dlopen asks for the
# ABI the headers describe.
LINKED_PKGS := zlib libbrotlienc libbrotlidec libwebp libwebpdemux libwebpmux libpng libjpeg inih jansson libargon2 libexif
LAZY_PKGS   := libpq libavif libswscale libavutil
PKGS       := $(LINKED_PKGS) $(LAZY_PKGS)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(LINKED_PKGS) 2>/dev/null)
soname = $(shell objdump -p "$$(pkg-config --variable=libdir $(1) 2>/dev/null)/$(2).so" 2>/dev/null | awk '/SONAME/{print $$2}')
LIBPQ_SONAME      := $(call soname,libpq,libpq)
LIBAVIF_SONAME    := $(call soname,libavif,libavif)
LIBSWSCALE_SONAME := $(call soname,libswscale,libswscale)
LIBAVUTIL_SONAME  := $(call soname,libavutil,libavutil)
SONAME_DEFS := $(if $(LIBPQ_SONAME),-DLIBPQ_SONAME=\"$(LIBPQ_SONAME)\") \
               $(if $(LIBAVIF_SONAME),-DLIBAVIF_SONAME=\"$(LIBAVIF_SONAME)\") \
               $(if $(LIBSWSCALE_SONAME),-DLIBSWSCALE_SONAME=\"$(LIBSWSCALE_SONAME)\") \
               $(if $(LIBAVUTIL_SONAME),-DLIBAVUTIL_SONAME=\"$(LIBAVUTIL_SONAME)\")

OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
# `override` keeps these when CFLAGS is given on the command line (make asan, sanitizer builds).
override CFLAGS += -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude $(PKG_CFLAGS) $(SONAME_DEFS)
override LDLIBS += -lcivetweb $(PKG_LIBS) -lpthread -lm
VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
override CFLAGS += -DTESSERA_VERSION=\"$(VERSION)\"

SERVER_SRC := $(sort $(wildcard server/*/*.c))
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/obj/%.o)
MAIN_OBJ   := $(BUILD)/obj/server/main.o
MIGRATIONS := $(sort $(wildcard server/db/migrations/*.sql))
GEN_OBJ    := $(BUILD)/obj/gen/migrations_embedded.o
LIB        := $(BUILD)/libtessera.a

UNIT_SRC   := $(sort $(wildcard tests/unit/*.c))
UNIT_OBJ   := $(UNIT_SRC:%.c=$(BUILD)/obj/%.o)
INTEG_SRC  := $(sort $(wildcard tests/integration/*.c))
INTEG_OBJ  := $(INTEG_SRC:%.c=$(BUILD)/obj/%.o)

.PHONY: all test unit integration browser run deps assets bench bench-static bench-images \
        bench-db bench-api bench-page asan fuzz install clean check-config

all: $(BUILD)/tessera assets

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# Migrations are embedded in the binary: scripts/embed.sh turns the .sql files into a C table.
$(BUILD)/gen/migrations_embedded.c: $(MIGRATIONS) scripts/embed.sh
	@mkdir -p $(dir $@)
	sh scripts/embed.sh migrations_embedded $(MIGRATIONS) > $@.tmp && mv $@.tmp $@

$(GEN_OBJ): $(BUILD)/gen/migrations_embedded.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(SERVER_OBJ) $(GEN_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/tessera: $(MAIN_OBJ) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(MAIN_OBJ) $(LIB) $(LDLIBS)

$(BUILD)/unit-tests: $(UNIT_OBJ) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(UNIT_OBJ) $(LIB) $(LDLIBS) -lcriterion

$(BUILD)/integration-tests: $(INTEG_OBJ) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(INTEG_OBJ) $(LIB) $(LDLIBS) -lcriterion -lcurl

# ---------------------------------------------------------------- dashboard assets
assets: $(BUILD)/tessera
	@if [ -f assets/build.mjs ]; then \
	  BUILD=$(BUILD) MODE=$(MODE) sh scripts/build-assets.sh; \
	else \
	  mkdir -p $(BUILD)/www && cp -R assets/. $(BUILD)/www/; \
	fi

# ---------------------------------------------------------------- the two commands
deps:
	@sh scripts/install-deps.sh

run: deps
	@$(MAKE) --no-print-directory all MODE=$(MODE)
	@BUILD=$(BUILD) sh scripts/run.sh

test: deps
	@$(MAKE) --no-print-directory all $(BUILD)/unit-tests $(BUILD)/integration-tests
	@BUILD=$(BUILD) sh scripts/test.sh

unit: $(BUILD)/unit-tests
	$(BUILD)/unit-tests

# ---------------------------------------------------------------- sanitizers and fuzzing
asan:
	@LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  $(MAKE) --no-print-directory test BUILD=build-asan OPT=-O1 \
	  CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	  LDFLAGS="-fsanitize=address,undefined"

FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
fuzz:
	@BUILD=build-fuzz FUZZ_CFLAGS="$(PKG_CFLAGS) $(SONAME_DEFS)" FUZZ_LIBS='$(LDLIBS)' sh scripts/fuzz.sh $(FUZZ_SRC)

# ---------------------------------------------------------------- benchmarks (not tests)
bench: bench-static bench-images bench-db bench-api bench-page
bench-static: all
	BUILD=$(BUILD) sh tests/bench/static.sh
bench-images: all
	BUILD=$(BUILD) sh tests/bench/images.sh
bench-db: all
	BUILD=$(BUILD) sh tests/bench/db.sh
bench-api: all
	BUILD=$(BUILD) sh tests/bench/api.sh
bench-page: all
	BUILD=$(BUILD) sh tests/bench/page.sh

# ---------------------------------------------------------------- install and clean
install: $(BUILD)/tessera
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/tessera/config
	install -m 0755 $(BUILD)/tessera $(DESTDIR)$(PREFIX)/bin/tessera
	install -m 0644 config/tessera.ini config/production.ini $(DESTDIR)$(PREFIX)/share/tessera/config/

clean:
	rm -rf build build-asan build-fuzz

-include $(SERVER_OBJ:.o=.d) $(UNIT_OBJ:.o=.d) $(INTEG_OBJ:.o=.d) $(MAIN_OBJ:.o=.d)
