-- wrk script: every request is one picked at random from a pool file made by bench/harness.py.
--
--   wrk ... -s bench/lua/pool.lua http://127.0.0.1:PORT -- POOL_FILE [threads=N] [count]
--
-- A pool line is METHOD <tab> PATH <tab> COOKIE <tab> BODY (cookie and body may be empty).
-- The requests are formatted once in init(), so request() costs one random number.
--
-- Requests that may be sent only once (a checkout empties its cart: a second one would be a
-- 409) are lines whose METHOD starts with "!". They are never picked at random: they are
-- handed out in file order, thread k of N (threads=N) taking the k-th, (k+N)-th, ... of them,
-- so no two requests of a run carry the same one. A pool of such lines alone is walked
-- through; in a mixed pool a line "NEXT" stands for "the next once-line" (the soak's
-- checkouts: their share of the mix is the share of NEXT lines). A thread that has none left
-- sends GET /healthz instead and counts an overrun; the harness fails a run that has any.
--
-- With "count", responses are counted by status class (exactly, for the lost-update check);
-- without it response() is dropped, since wrk then skips parsing headers and bodies.
-- done() prints one line, "BENCH_JSON {...}", that the harness reads.

local pool = {}
local once = {}
local once_at = 1
local NEXT = {}
local fallback = nil
local threads = {}
n2xx, n3xx, n4xx, n5xx = 0, 0, 0, 0
once_used, once_overrun = 0, 0

function setup(thread)
  table.insert(threads, thread)
  thread:set("number", #threads)
end

-- args: POOL_FILE, then flags: "threads=N" (the once-lines' stride), "count".
function init(args)
  local path = args[1]
  local stride, count = 1, false
  for i = 2, #args do
    local n = args[i]:match("^threads=(%d+)$")
    if n then
      stride = tonumber(n)
    elseif args[i] == "count" then
      count = true
    end
  end
  -- Each thread its own random sequence (`number` was set by setup()).
  math.randomseed(os.time() * 1000 + number)
  fallback = wrk.format("GET", "/healthz")
  local seen = 0
  for line in io.lines(path) do
    if line == "NEXT" then
      table.insert(pool, NEXT)
    else
      local method, target, cookie, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      if method then
        local headers = {}
        if cookie ~= "" then headers["Cookie"] = cookie end
        if body == "" then
          body = nil
        else
          headers["Content-Type"] = "application/json"
        end
        if method:sub(1, 1) == "!" then
          -- This thread's share of the once-lines: every stride-th, starting at its number.
          if seen % stride == (number - 1) % stride then
            table.insert(once, wrk.format(method:sub(2), target, headers, body))
          end
          seen = seen + 1
        else
          table.insert(pool, wrk.format(method, target, headers, body))
        end
      end
    end
  end
  if #pool == 0 and #once == 0 then
    error("no requests in " .. path)
  end
  if not count then
    response = nil
  end
end

local function take_once()
  if once_at <= #once then
    local request = once[once_at]
    once_at = once_at + 1
    once_used = once_used + 1
    return request
  end
  once_overrun = once_overrun + 1
  return fallback
end

function request()
  if #pool == 0 then
    return take_once()
  end
  local request = pool[math.random(#pool)]
  if request == NEXT then
    return take_once()
  end
  return request
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
  local used, overrun = 0, 0
  for _, thread in ipairs(threads) do
    counted[1] = counted[1] + (thread:get("n2xx") or 0)
    counted[2] = counted[2] + (thread:get("n3xx") or 0)
    counted[3] = counted[3] + (thread:get("n4xx") or 0)
    counted[4] = counted[4] + (thread:get("n5xx") or 0)
    used = used + (thread:get("once_used") or 0)
    overrun = overrun + (thread:get("once_overrun") or 0)
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"latency_us": {"mean": %.1f, "stdev": %.1f, "max": %d, '
      .. '"p50": %d, "p90": %d, "p95": %d, "p99": %d, "p999": %d}, '
      .. '"counted": {"2xx": %d, "3xx": %d, "4xx": %d, "5xx": %d}, '
      .. '"once": {"used": %d, "overrun": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency:percentile(99.9),
    counted[1], counted[2], counted[3], counted[4], used, overrun
  ))
end
