-- wrk script: GET with the bearer token in ZTNA_BENCH_TOKEN; counts non-200 replies.
local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    bad = 0
    wrk.headers["Authorization"] = "Bearer " .. (os.getenv("ZTNA_BENCH_TOKEN") or "")
end

response = function(status, headers, body)
    if status ~= 200 then
        bad = bad + 1
    end
end

function done(summary, latency, requests)
    local bad_total = 0
    for _, t in ipairs(threads) do
        bad_total = bad_total + (t:get("bad") or 0)
    end
    io.write(string.format("requests=%d non200=%d rps=%.0f p50_ms=%.2f p99_ms=%.2f\n",
        summary.requests, bad_total, summary.requests / (summary.duration / 1e6),
        latency:percentile(50) / 1e3, latency:percentile(99) / 1e3))
end
