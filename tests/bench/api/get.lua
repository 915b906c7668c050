-- get.lua: GET the URL given to wrk (conversation list or message list) with the token.
dofile(os.getenv("LUA_DIR") .. "/common.lua")
