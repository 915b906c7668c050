-- get.lua: GET the URL given to wrk (conversation list or message list) with the token.
-- $ACCEPT_ENCODING, when set, is sent as Accept-Encoding (without it the body is identity).
dofile(os.getenv("LUA_DIR") .. "/common.lua")
local accept_encoding = os.getenv("ACCEPT_ENCODING")
if accept_encoding then wrk.headers["Accept-Encoding"] = accept_encoding end
