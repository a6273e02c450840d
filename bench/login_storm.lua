-- wrk script for the bid rush of bench/login_storm.py: every line of BENCH_LINES (tab-separated as in
-- bench/rush.lua: path, bearer token or "-", JSON body, optionally an Idempotency-Key) is sent EXACTLY ONCE,
-- the lines dealt out between wrk's threads, so the bids sent are known to the unit. delay() hands each
-- connection its next line (or, once this thread's lines are all taken, an hour's pause: no request is sent
-- twice); a thread that has every answer writes "DONE" and stops, and the bench stops wrk (SIGINT) once
-- every thread has. Counts the answers by status, as rush.lua does.
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
  taken = 0     -- lines handed to a connection by delay()
  sent = 0      -- lines returned by request()
  answered = 0
  created = 0
  replayed = 0
  conflict = 0
  other = 0
  last_other = 0
  if #requests_list == 0 then
    io.write("DONE\n")
    io.flush()
  end
end

function delay()
  if taken < #requests_list then
    taken = taken + 1
    return 0
  end
  return 3600000
end

function request()
  -- wrk calls request() once before the run to check the request (thread 0, before any delay()): answer it
  -- without taking a line
  if taken == 0 then return requests_list[1] end
  sent = sent + 1
  return requests_list[sent]
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
  answered = answered + 1
  if answered == #requests_list then
    io.write("DONE\n")
    io.flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local c, r, k, o, lo, s = 0, 0, 0, 0, 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("created")
    r = r + t:get("replayed")
    k = k + t:get("conflict")
    o = o + t:get("other")
    s = s + t:get("sent")
    if t:get("last_other") ~= 0 then lo = t:get("last_other") end
  end
  io.write(string.format(
    'BENCH {"sent": %d, "requests": %d, "created": %d, "replayed": %d, "conflict": %d, "other": %d, ' ..
    '"last_other": %d, "errors": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    s, summary.requests, c, r, k, o, lo,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
