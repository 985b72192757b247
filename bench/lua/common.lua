-- Shared by orders.lua and get.lua: per-thread status counts and one JSON
-- result line ("BENCH_JSON {...}", latencies in microseconds) for bench/run.py.

local threads = {}
local thread_count = 0

function setup(thread)
   thread_count = thread_count + 1
   thread:set("thread_id", thread_count)
   table.insert(threads, thread)
end

-- Each wrk thread has its own Lua state; a global so done() can read it with thread:get().
statuses = {}

function response(status, _headers, _body)
   local key = tostring(status)
   statuses[key] = (statuses[key] or 0) + 1
end

function api_headers(token)
   return { ["Authorization"] = "Token " .. token, ["Accept"] = "application/json" }
end

local function json_counts(counts)
   local parts = {}
   for code, n in pairs(counts) do
      parts[#parts + 1] = string.format('"%s":%d', code, n)
   end
   return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, _requests)
   local counts = {}
   for _, thread in ipairs(threads) do
      for code, n in pairs(thread:get("statuses") or {}) do
         counts[code] = (counts[code] or 0) + n
      end
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"statuses":%s,"latency_us":{"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      json_counts(counts),
      latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency:percentile(99.9)
   ))
end
