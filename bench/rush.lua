-- wrk script for the deadline rush: each connection POSTs the next line of BENCH_LINES (tab-separated:
-- path, bearer token or "-", JSON body, and optionally an Idempotency-Key), the lines dealt out between
-- wrk's threads; counts statuses, and the 201s that were replays (Idempotent-Replayed) apart.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local nthreads = tonumber(args[1] or "1")
  local reqs = {}
  local i = 0
  for line in io.lines(os.getenv("BENCH_LINES")) do
    if i % nthreads == tid then
      local path, token, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)")
      local key = line:match("^[^\t]*\t[^\t]*\t[^\t]*\t([^\t]+)$")
      local headers = {["Content-Type"] = "application/json"}
      if token ~= "-" then headers["Authorization"] = "Bearer " .. token end
      if key then headers["Idempotency-Key"] = key end
      table.insert(reqs, wrk.format("POST", path, headers, body))
    end
    i = i + 1
  end
  requests_list = reqs
  nxt = 0
  created = 0
  replayed = 0
  conflict = 0
  other = 0
  last_other = 0
end

function request()
  nxt = nxt + 1
  if nxt > #requests_list then nxt = 1 end
  return requests_list[nxt]
end

function response(status, headers, body)
  if status == 201 and (headers["Idempotent-Replayed"] or headers["idempotent-replayed"]) then
    replayed = replayed + 1
  elseif status == 201 then
    created = created + 1
  elseif status == 409 then
    conflict = conflict + 1
  else
    other = other + 1
    last_other = status
  end
end

function done(summary, latency, requests)
  local c, r, k, o, lo = 0, 0, 0, 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("created")
    r = r + t:get("replayed")
    k = k + t:get("conflict")
    o = o + t:get("other")
    if t:get("last_other") ~= 0 then lo = t:get("last_other") end
  end
  io.write(string.format(
    'BENCH {"requests": %d, "created": %d, "replayed": %d, "conflict": %d, "other": %d, "last_other": %d, "errors": %d, ' ..
    '"duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, c, r, k, o, lo,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
