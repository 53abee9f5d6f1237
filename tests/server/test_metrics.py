#!/usr/bin/env python3
"""GET /metrics: Prometheus text format parsed line by line; request counters by route and
status move with the requests made; the latency histogram is cumulative and consistent; the
machines-online gauge follows registrations and the janitor's offline marking."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Server, check, expect  # noqa: E402
from test_machines_util import Machine, create_key  # noqa: E402

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def parse(text):
    """{(name, frozenset(labels)): value}, checking every line is valid exposition format."""
    out, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            check(kind in ("counter", "gauge", "histogram", "summary", "untyped"), line)
            types[name] = kind
            continue
        if line.startswith("#") or not line:
            continue
        m = LINE.match(line)
        check(m, "bad exposition line %r" % line)
        labels = {}
        if m.group(3):
            pos = 0
            for lm in LABEL.finditer(m.group(3)):
                check(lm.start() == pos, "bad labels in %r" % line)
                labels[lm.group(1)] = lm.group(2)
                pos = lm.end()
            check(pos == len(m.group(3)), "bad labels in %r" % line)
        out[(m.group(1), frozenset(labels.items()))] = float(m.group(4))
    return out, types


def scrape(srv):
    r = srv.get("/metrics")
    if r.status == 404:
        raise harness.Skip("GET /metrics is not routed by server/http.c yet "
                           "(metrics_render() exists; see server/metrics.h)")
    check(r.status == 200, repr(r))
    check((r.header("Content-Type") or "").startswith("text/plain"), r.header("Content-Type"))
    return parse(r.body.decode())


def main():
    with Server(env={"ZTNA_OFFLINE_TIMEOUT": "2"}) as srv:
        owner = srv.setup()
        route = "/api/orgs/{org}/machines"
        before, types = scrape(srv)
        check(types.get("ztna_http_requests_total") == "counter" and
              types.get("ztna_http_request_duration_seconds") == "histogram" and
              types.get("ztna_machines_online") == "gauge" and
              types.get("ztna_db_errors_total") == "counter", repr(types))
        for _ in range(3):
            expect(srv.get(route.replace("{org}", str(owner.org_id)), owner), 200)
        expect(srv.get("/api/orgs/%d/machines/999" % owner.org_id, owner), 404)
        key = create_key(srv, owner, reusable=True)["key"]
        ms = [Machine("m%d" % i) for i in range(2)]
        for m in ms:
            m.register(srv, key)
        after, _ = scrape(srv)

        def val(d, name, **labels):
            return d.get((name, frozenset(labels.items())), 0.0)
        check(val(after, "ztna_http_requests_total", route=route, status="200") -
              val(before, "ztna_http_requests_total", route=route, status="200") == 3, "200s")
        check(val(after, "ztna_http_requests_total", route=route + "/{machine}", status="404")
              == 1, "404 counted")
        check(val(after, "ztna_http_requests_total", route="/api/register-machine", status="201")
              == 2, "registrations counted")
        # Histogram: buckets cumulative, +Inf == count, sum > 0.
        les = sorted(((float(dict(k[1])["le"]) if dict(k[1])["le"] != "+Inf" else float("inf")), v)
                     for k, v in after.items()
                     if k[0] == "ztna_http_request_duration_seconds_bucket" and
                     dict(k[1]).get("route") == route)
        check(len(les) >= 5 and les[-1][0] == float("inf"), repr(les))
        check(all(les[i][1] <= les[i + 1][1] for i in range(len(les) - 1)), "cumulative")
        count = val(after, "ztna_http_request_duration_seconds_count", route=route)
        check(les[-1][1] == count >= 3, "count %r" % count)
        check(val(after, "ztna_http_request_duration_seconds_sum", route=route) > 0, "sum")
        check(val(after, "ztna_machines_online") == 2 and val(after, "ztna_machines_total") == 2,
              "gauges %r" % {k: v for k, v in after.items() if "machines" in k[0]})
        check(val(after, "ztna_db_errors_total") == 0, "no db errors")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and val(scrape(srv)[0], "ztna_machines_online") != 0:
            time.sleep(0.5)
        check(val(scrape(srv)[0], "ztna_machines_online") == 0, "janitor marked them offline")


harness.run(main)
