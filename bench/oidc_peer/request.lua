-- The wrk script of bench/oidc.py: one kind of request, and the run's figures as one JSON line.
--
--   wrk -t T -c C -d Ds -s request.lua URL -- METHOD BODY FILE NTHREADS [HEADER ...]
--
-- BODY is the form body ("-" for none). FILE "-" sends the same request again and again;
-- otherwise FILE holds one consumable per line (an authorization code, a refresh token), its
-- fields separated by tabs, and each request uses the next line once: "{1}", "{2}" in BODY are
-- replaced by the line's fields. Thread i takes lines i, i + NTHREADS, ... so that no two
-- requests ever share a line; a thread that runs out stops (the run is then reported as such,
-- never silently cut short). HEADERs are "Name: value".

local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("tid", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

local lines = nil
local next_line = 1
local template = nil

local function split(line)
  local fields = {}
  for field in string.gmatch(line, "[^\t]+") do
    table.insert(fields, field)
  end
  return fields
end

local function consume()
  local line = lines[next_line]
  if line == nil then
    exhausted = 1
    wrk.thread:stop()
    -- a request that cannot succeed: never a replay of a code already used
    return wrk.format(nil, nil, nil, (template:gsub("{%d}", "exhausted")))
  end
  next_line = next_line + 1
  used = used + 1
  local fields = split(line)
  local body = template:gsub("{(%d)}", function(i) return fields[tonumber(i)] or "" end)
  return wrk.format(nil, nil, nil, body)
end

function init(args)
  local method, body, file, nthreads = args[1], args[2], args[3], tonumber(args[4])
  used = 0
  exhausted = 0
  wrk.method = method
  if body ~= "-" then
    wrk.body = body
  end
  for i = 5, #args do
    local name, value = string.match(args[i], "^([^:]+):%s*(.*)$")
    wrk.headers[name] = value
  end
  if file ~= "-" then
    lines = {}
    local index = 0
    for line in io.lines(file) do
      if index % nthreads == tid and line ~= "" then
        table.insert(lines, line)
      end
      index = index + 1
    end
    template = body
    request = consume -- a global request() makes wrk call it for every request
  end
end

function done(summary, latency, requests)
  local consumed, stopped = 0, 0
  for _, thread in ipairs(threads) do
    consumed = consumed + (thread:get("used") or 0)
    stopped = stopped + (thread:get("exhausted") or 0)
  end
  local errors = summary.errors
  io.write(string.format(
    '@@wrk {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, "read_errors": %d, '
      .. '"write_errors": %d, "status_errors": %d, "timeouts": %d, "latency_mean_us": %.1f, '
      .. '"latency_p50_us": %d, "latency_p90_us": %d, "latency_p99_us": %d, "latency_max_us": %d, '
      .. '"consumed": %d, "exhausted_threads": %d}\n',
    summary.requests, summary.duration, summary.bytes, errors.connect, errors.read, errors.write,
    errors.status, errors.timeout, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, consumed, stopped
  ))
end
