-- wrk script: every request is one picked at random from a pool file made by bench/harness.py.
--
--   wrk ... -s bench/lua/pool.lua http://127.0.0.1:PORT -- POOL_FILE [count]
--
-- A pool line is METHOD <tab> PATH <tab> COOKIE <tab> BODY (cookie and body may be empty).
-- The requests are formatted once in init(), so request() costs one random number.
-- With "count", responses are counted by status class (exactly, for the lost-update check);
-- without it response() is dropped, since wrk then skips parsing headers and bodies.
-- done() prints one line, "BENCH_JSON {...}", that the harness reads.

local pool = {}
local threads = {}
n2xx, n3xx, n4xx, n5xx = 0, 0, 0, 0

function setup(thread)
  table.insert(threads, thread)
  thread:set("number", #threads)
end

function init(args)
  local path = args[1]
  -- Each thread its own random sequence (`number` was set by setup()).
  math.randomseed(os.time() * 1000 + number)
  for line in io.lines(path) do
    local method, target, cookie, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    if method then
      local headers = {}
      if cookie ~= "" then headers["Cookie"] = cookie end
      if body == "" then
        body = nil
      else
        headers["Content-Type"] = "application/json"
      end
      table.insert(pool, wrk.format(method, target, headers, body))
    end
  end
  if #pool == 0 then
    error("no requests in " .. path)
  end
  if args[2] ~= "count" then
    response = nil
  end
end

function request()
  return pool[math.random(#pool)]
end

function response(status, headers, body)
  if status < 300 then
    n2xx = n2xx + 1
  elseif status < 400 then
    n3xx = n3xx + 1
  elseif status < 500 then
    n4xx = n4xx + 1
  else
    n5xx = n5xx + 1
  end
end

function done(summary, latency, requests)
  local counted = { 0, 0, 0, 0 }
  for _, thread in ipairs(threads) do
    counted[1] = counted[1] + (thread:get("n2xx") or 0)
    counted[2] = counted[2] + (thread:get("n3xx") or 0)
    counted[3] = counted[3] + (thread:get("n4xx") or 0)
    counted[4] = counted[4] + (thread:get("n5xx") or 0)
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"latency_us": {"mean": %.1f, "stdev": %.1f, "max": %d, '
      .. '"p50": %d, "p90": %d, "p95": %d, "p99": %d, "p999": %d}, '
      .. '"counted": {"2xx": %d, "3xx": %d, "4xx": %d, "5xx": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency:percentile(99.9),
    counted[1], counted[2], counted[3], counted[4]
  ))
end
