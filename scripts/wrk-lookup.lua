-- wrk script for scripts/bench-http.sh: lookups of stored correlation ids, either through
-- errwatch's API or as the same SQL sent straight to ClickHouse's HTTP interface.
--
--   wrk ... http://127.0.0.1:PORT -- errwatch   IDS_FILE SEED
--   wrk ... http://127.0.0.1:PORT -- clickhouse IDS_FILE SEED SQL_FILE PATH
--
-- IDS_FILE has one correlation id a line. Each thread goes through all of them in an order of
-- its own (a shuffle seeded by SEED and the thread's number), so that threads do not ask for
-- the same id at the same moment and a run with another SEED asks in another order.
--   errwatch:   GET /api/v1/correlations/ID
--   clickhouse: POST PATH (URL parameters: database, format, settings) with the contents of
--               SQL_FILE as the body, every `{id}` in it replaced by the id
--
-- Besides wrk's own report, done() prints key=value lines for the script: requests/s, latency
-- percentiles in milliseconds, socket errors, and the answers that were not a found event:
-- any status but 200, and (ClickHouse answers 200 with no rows when an id is missing) a 200
-- with an empty body.

local threads = {}

-- Runs in wrk's main Lua state once per thread, before init.
function setup(thread)
    thread:set("thread_number", #threads + 1)
    table.insert(threads, thread)
end

local function read_file(path)
    local file = assert(io.open(path, "rb"))
    local text = file:read("*a")
    file:close()
    return text
end

local requests = {}
local next_request = 1

-- The counters done() collects; globals so that thread:get can read them.
answers = 0
not_200 = 0
empty_200 = 0

function init(args)
    local mode, ids_file, seed = args[1], args[2], tonumber(args[3])
    assert(mode == "errwatch" or mode == "clickhouse", "first argument: errwatch or clickhouse")
    assert(ids_file and seed, "arguments: MODE IDS_FILE SEED [SQL_FILE PATH]")
    local ids = {}
    for line in io.lines(ids_file) do
        if line ~= "" then
            table.insert(ids, line)
        end
    end
    assert(#ids > 0, "no ids in " .. ids_file)

    -- Fisher-Yates with the thread's own seed.
    math.randomseed(seed * 1000 + thread_number)
    for i = #ids, 2, -1 do
        local j = math.random(i)
        ids[i], ids[j] = ids[j], ids[i]
    end

    -- Requests are formatted once here, so that the measured loop only hands out strings.
    if mode == "errwatch" then
        for i, id in ipairs(ids) do
            requests[i] = wrk.format("GET", "/api/v1/correlations/" .. id)
        end
    else
        local sql, path = read_file(assert(args[4], "SQL_FILE missing")), assert(args[5], "PATH missing")
        for i, id in ipairs(ids) do
            local body = sql:gsub("{id}", id)
            requests[i] = wrk.format("POST", path, { ["Content-Type"] = "text/plain" }, body)
        end
    end
end

function request()
    local r = requests[next_request]
    next_request = next_request % #requests + 1
    return r
end

function response(status, headers, body)
    answers = answers + 1
    if status ~= 200 then
        not_200 = not_200 + 1
    elseif body == nil or #body == 0 then
        empty_200 = empty_200 + 1
    end
end

function done(summary, latency, requests_made)
    local seconds = summary.duration / 1e6
    local e = summary.errors
    local counted, bad, empty = 0, 0, 0
    for _, thread in ipairs(threads) do
        counted = counted + thread:get("answers")
        bad = bad + thread:get("not_200")
        empty = empty + thread:get("empty_200")
    end
    local lines = {
        { "requests", summary.requests },
        { "seconds", string.format("%.3f", seconds) },
        { "requests_per_second", string.format("%.1f", summary.requests / seconds) },
        { "bytes", summary.bytes },
        { "p50_ms", string.format("%.2f", latency:percentile(50) / 1000) },
        { "p90_ms", string.format("%.2f", latency:percentile(90) / 1000) },
        { "p99_ms", string.format("%.2f", latency:percentile(99) / 1000) },
        { "max_ms", string.format("%.2f", latency.max / 1000) },
        { "mean_ms", string.format("%.2f", latency.mean / 1000) },
        { "socket_errors", e.connect + e.read + e.write + e.timeout },
        { "timeouts", e.timeout },
        { "wrk_non_2xx_3xx", e.status },
        { "answers_seen", counted },
        { "not_200", bad },
        { "empty_200", empty },
    }
    for _, kv in ipairs(lines) do
        io.write(kv[1], "=", tostring(kv[2]), "\n")
    end
end
