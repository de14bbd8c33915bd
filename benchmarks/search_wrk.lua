-- wrk script for search_bench.py's HTTP arm: POST /api/v1/search, one identifier lookup per
-- request, rotating through the numbers file (one per line); every thread starts elsewhere.
-- usage: wrk -s search_wrk.lua URL -- NUMBERS_FILE TOKEN PURPOSE
local numbers, n = {}, 0
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do
    table.insert(numbers, line)
  end
  wrk.method = "POST"
  wrk.path = "/api/v1/search"
  wrk.headers["Authorization"] = "Bearer " .. args[2]
  wrk.headers["Content-Type"] = "application/json"
  purpose = args[3]
  n = (id or 0) * 7919
end

function request()
  n = n + 1
  local number = numbers[(n % #numbers) + 1]
  local body = '{"identifiers": ["' .. number .. '"], "purpose": "' .. purpose .. '", "limit": 5}'
  return wrk.format(nil, nil, nil, body)
end

function response(status)
  if status ~= 200 then
    errors = (errors or 0) + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do
    bad = bad + (t:get("errors") or 0)
  end
  io.write(string.format(
    "JSON {\"requests\": %d, \"seconds\": %.3f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, " ..
    "\"non_200\": %d, \"socket_errors\": %d}\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, bad,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
