# make_flags.sh — sourced by the bench scripts that build a helper against libtessera.a:
# sets MAKE_CFLAGS (package include flags and defines) and MAKE_LDLIBS (the link line) to
# exactly what the Makefile uses for tessera, by asking make itself, so the helpers follow
# the Makefile when its package list or its way of loading a library changes.
# Needs $top (the source tree).
make_flags_query() {
  printf 'bench-print-flags:\n\t@echo "$(%s)"\n' "$1" |
    make -s --no-print-directory -C "$top" -f Makefile -f - bench-print-flags
}
MAKE_CFLAGS=$(make_flags_query 'PKG_CFLAGS) $(SONAME_DEFS')
MAKE_LDLIBS=$(make_flags_query LDLIBS)
[ -n "$MAKE_LDLIBS" ] || { echo "make_flags.sh: could not read LDLIBS from the Makefile" >&2; exit 1; }
