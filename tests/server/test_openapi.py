#!/usr/bin/env python3
"""GET /api/endpoints (the route table) and docs/openapi.yaml list the same method + path set.
The YAML is read with a small indentation-based reader (stdlib only): path keys are the
2-space-indented '/api...:' lines under 'paths:', methods the 4-space-indented verbs below."""
import os

import harness
from harness import Server, check, expect

VERBS = {"get", "post", "put", "patch", "delete"}


def openapi_routes(path):
    routes = set()
    in_paths = False
    current = None
    with open(path) as f:
        for line in f:
            raw = line.rstrip("\n")
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
            indent = len(raw) - len(raw.lstrip(" "))
            text = raw.strip()
            if indent == 0:
                in_paths = text == "paths:"
                continue
            if not in_paths:
                continue
            if indent == 2 and text.endswith(":"):
                current = text[:-1].strip("'\"")
            elif indent == 4 and current and text.rstrip(":") in VERBS:
                routes.add((text.rstrip(":").upper(), current))
    return routes


def main():
    doc = os.path.join(harness.SOURCE_DIR, "docs", "openapi.yaml")
    documented = openapi_routes(doc)
    check(len(documented) >= 15, "parsed %d routes from %s" % (len(documented), doc))
    with Server() as srv:
        r = expect(srv.get("/api/endpoints"), 200)
        served = set((e["method"], e["path"]) for e in r.data)
        for e in r.data:
            check(e["auth"] in ("none", "user", "org", "custom") and e["summary"], e)
    missing_doc = sorted(served - documented)
    missing_srv = sorted(documented - served)
    check(not missing_doc, "routes missing from docs/openapi.yaml: %r" % missing_doc)
    check(not missing_srv, "documented routes the server lacks: %r" % missing_srv)
    print("%d routes agree" % len(served))


harness.run(main)
