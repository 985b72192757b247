-- POST /api/v1/orders/: one line, quantity 1, a random part of PART_IDS.
--
--   wrk ... -s bench/lua/orders.lua URL -- TOKEN PREFIX PATH PART_IDS
--
-- Every request has its own request_id, PREFIX-<thread>-<counter>: PREFIX is
-- random per scenario and run, so ids never repeat across threads or runs.

local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(here .. "common.lua")

local prefix, path, headers = nil, nil, nil
local part_ids = {}
local counter = 0

function init(args)
   headers = api_headers(args[1])
   headers["Content-Type"] = "application/json"
   prefix, path = args[2], args[3]
   for id in string.gmatch(args[4], "%d+") do
      part_ids[#part_ids + 1] = id
   end
   math.randomseed(os.time() + thread_id * 7919)
end

function request()
   counter = counter + 1
   local body = string.format(
      '{"request_id":"%s-%d-%d","items":[{"spare_part_id":%s,"quantity":1}]}',
      prefix, thread_id, counter, part_ids[math.random(#part_ids)]
   )
   return wrk.format("POST", path, headers, body)
end
