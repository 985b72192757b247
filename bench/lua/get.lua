-- The same authenticated GET every time (a static request, built once by wrk).
--
--   wrk ... -s bench/lua/get.lua URL -- TOKEN PATH

local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(here .. "common.lua")

function init(args)
   wrk.method = "GET"
   wrk.path = args[2]
   -- Added to wrk.headers in place: it already holds the Host header.
   for name, value in pairs(api_headers(args[1])) do
      wrk.headers[name] = value
   end
end
