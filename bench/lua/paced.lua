-- wrk script: bench/lua/pool.lua's requests, sent at a fixed rate (wrk itself has no rate option;
-- this is wrk2's idea done with wrk's delay() hook).
--
--   wrk -tT -cC ... -s bench/lua/paced.lua http://127.0.0.1:PORT -- POOL_FILE RATE [threads=N] [count]
--
-- RATE is requests per second *per wrk thread*. Each thread hands out send times one interval
-- apart: when a connection has its response, delay() gives it the next free send time. So the
-- rate holds as long as the connections are enough for rate x latency requests in flight;
-- when the server falls behind, no debt is kept (the next send is "now", not a burst).

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "pool.lua")

local ffi = require("ffi")
ffi.cdef([[
  typedef struct { long tv_sec; long tv_nsec; } paced_timespec;
  int clock_gettime(int clock, paced_timespec *now);
]])
local CLOCK_MONOTONIC = 1
local clock = ffi.new("paced_timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local interval_ms = 0
local next_send_ms = 0
local pool_init = init

function init(args)
  -- pool.lua's arguments: the pool file and the flags after the rate.
  local pool_args = { args[1] }
  for i = 3, #args do
    table.insert(pool_args, args[i])
  end
  pool_init(pool_args)
  local rate = tonumber(args[2])
  if not rate or rate <= 0 then
    error("paced.lua needs a rate per thread (requests per second) after the pool file")
  end
  interval_ms = 1000 / rate
end

function delay()
  local now = now_ms()
  if next_send_ms < now then
    next_send_ms = now
  end
  local wait = next_send_ms - now
  next_send_ms = next_send_ms + interval_ms
  return math.floor(wait)
end
