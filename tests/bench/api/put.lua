-- put.lua: PUT /api/preferences/theme, rotating over the users whose bearer tokens are in
-- $TOKENS (one per line) so that requests measure round trips, not 32 connections queueing
-- on one row lock. The value changes every request. $PUT_PATH is the path (tessera's own
-- route by default; the old-way server answers under /two/... and /txn/..., see put_old_way.c).
dofile(os.getenv("LUA_DIR") .. "/common.lua")
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do tokens[#tokens + 1] = line end
local path = os.getenv("PUT_PATH") or "/api/preferences/theme"
local n = math.random(1, #tokens)
request = function()
  n = n + 1
  local headers = {["Content-Type"] = "application/json",
                   ["Authorization"] = "Bearer " .. tokens[n % #tokens + 1]}
  return wrk.format("PUT", path, headers, '{"value":"t' .. n .. '"}')
end
