-- Replays pre-signed Twilio SMS webhooks: wrk -s replay.lua URL -- FILE THREADS MARKER_DIR
-- FILE has one request per line: "<X-Twilio-Signature>\t<form body>".
-- Thread k sends lines k, k+T, k+2T, ... once each, then stops itself, so a run is
-- bounded by the file as well as by wrk's -d. Until every connection has seen its
-- last answer, a connection that asks for more gets a retry of an earlier request
-- (Twilio retries too; the app answers it without a new row); those are counted apart.
-- Requests still in flight when a thread stops are finished by the server all the same,
-- so the harness checks the database against every request sent, not only answered ones.

local threads = {}
local next_id = 0

function setup(thread)
   thread:set("tid", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

-- Globals, so that done() can read them from each thread with thread:get().
reqs, nreqs, sent, answered, ok, bad, retries = {}, 0, 0, 0, 0, 0, 0
finished, marker = false, nil

function init(args)
   local path, count = args[1], tonumber(args[2])
   marker = args[3] .. "/done-" .. tid
   local i = 0
   for line in io.lines(path) do
      if i % count == tid then
         local sig, body = line:match("^([^\t]+)\t(.*)$")
         reqs[#reqs + 1] = wrk.format("POST", "/twilio/sms", {
            ["X-Twilio-Signature"] = sig,
            ["Content-Type"] = "application/x-www-form-urlencoded",
         }, body)
      end
      i = i + 1
   end
   nreqs = #reqs
end

function request()
   sent = sent + 1
   if sent <= nreqs then
      return reqs[sent]
   end
   retries = retries + 1
   return reqs[1]
end

function response(status, headers, body)
   answered = answered + 1
   if status >= 200 and status < 300 then
      ok = ok + 1
   else
      bad = bad + 1
   end
   if answered >= nreqs and not finished then
      -- wrk's main thread sleeps for the whole -d duration even when every thread
      -- has stopped; the marker file tells the harness to end it with SIGINT.
      finished = true
      local f = io.open(marker, "w")
      f:write("done\n")
      f:close()
      wrk.thread:stop()
   end
end

function done(summary, latency, requests)
   local t_ok, t_bad, t_retries, t_fresh = 0, 0, 0, 0
   for _, thread in ipairs(threads) do
      t_ok = t_ok + thread:get("ok")
      t_bad = t_bad + thread:get("bad")
      t_retries = t_retries + thread:get("retries")
      t_fresh = t_fresh + math.min(thread:get("sent"), thread:get("nreqs"))
   end
   local seconds = summary.duration / 1e6
   io.write(string.format(
      "RESULT {\"requests\": %d, \"seconds\": %.3f, \"rps\": %.1f, " ..
      "\"p50_ms\": %.2f, \"p90_ms\": %.2f, \"p99_ms\": %.2f, \"max_ms\": %.2f, " ..
      "\"ok\": %d, \"non_2xx\": %d, \"retries\": %d, \"fresh\": %d, " ..
      "\"socket_errors\": %d, \"timeouts\": %d}\n",
      summary.requests, seconds, summary.requests / seconds,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000,
      latency:percentile(99) / 1000, latency.max / 1000,
      t_ok, t_bad, t_retries, t_fresh,
      summary.errors.connect + summary.errors.read + summary.errors.write,
      summary.errors.timeout))
end
