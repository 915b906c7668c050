-- common.lua: the bearer token from the environment and one summary line per run.
token = os.getenv("TOKEN")
wrk.headers["Authorization"] = "Bearer " .. token

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read
                 + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT %.0f %.2f %.2f %d\n", summary.requests / seconds,
                         latency:percentile(50) / 1000, latency:percentile(99) / 1000, errors))
end
