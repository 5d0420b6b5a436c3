-- wrk script: POST /api/v1/ask, every request a different question, read from
-- the JSON lines file in $QUESTIONS (scripts/bench.sh). Each wrk thread takes
-- every other question, so no two requests ask the same one until the list
-- wraps around and no answer comes from a cache.
local questions = {}
for line in io.lines(os.getenv("QUESTIONS")) do
  local q = line:match('"question":%s*"([^"\\]*)"')
  if q then table.insert(questions, q) end
end

local threads = 0
setup = function(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local n = 0
request = function()
  local q = questions[((n * 2 + id) % #questions) + 1]
  n = n + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, '{"question": "' .. q .. '"}')
end

response = function(status, headers, body)
  if status ~= 200 then io.stderr:write("status " .. status .. ": " .. body .. "\n") end
end

done = function(summary, latency, requests)
  io.write(string.format("questions: %d\n", #questions))
  io.write(string.format("non-2xx or socket errors: %d\n", summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  for _, p in pairs({50, 90, 99}) do
    io.write(string.format("latency p%d: %.2f ms\n", p, latency:percentile(p) / 1000))
  end
end
