-- wrk script: a registration storm. Every request registers a new machine (unique machine key,
-- WireGuard key and hostname per thread and counter) with the pre-auth key in ZTNA_BENCH_KEY.
-- run.sh stops wrk (SIGINT) once the org holds the wanted number of machines.
local threads = {}
local counter = 0

function setup(thread)
    thread:set("tid", #threads + 1)
    table.insert(threads, thread)
end

function init(args)
    key = os.getenv("ZTNA_BENCH_KEY")
    ok, bad = 0, 0
    math.randomseed(tid * 7919 + os.time())
end

local function hex32(n)
    -- 32 bytes: thread id, counter, then random filler; unique per thread and counter.
    local s = string.format("%08x%08x", tid, n)
    for _ = 1, 6 do
        s = s .. string.format("%08x", math.random(0, 0x7fffffff))
    end
    return s
end

request = function()
    counter = counter + 1
    local body = string.format(
        '{"machine_key":"%s","wg_public_key":"%s","hostname":"bench-%d-%d","os":"linux"}',
        hex32(counter), hex32(counter + 0x40000000), tid, counter)
    return wrk.format("POST", "/api/register-machine",
        {["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json"}, body)
end

response = function(status, headers, body)
    if status == 201 then
        ok = ok + 1
    else
        bad = bad + 1
    end
end

function done(summary, latency, requests)
    local ok_total, bad_total = 0, 0
    for _, t in ipairs(threads) do
        ok_total = ok_total + (t:get("ok") or 0)
        bad_total = bad_total + (t:get("bad") or 0)
    end
    io.write(string.format("registered=%d failed=%d seconds=%.2f p50_ms=%.2f p99_ms=%.2f\n",
        ok_total, bad_total, summary.duration / 1e6, latency:percentile(50) / 1e3,
        latency:percentile(99) / 1e3))
end
