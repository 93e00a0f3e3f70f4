#!/usr/bin/env python3
"""Writes tests/data/obs/cpu.jsonl: two OTLP/JSON ExportProfilesServiceRequests with CPU
profiles of five processes (Go, CPython, native, kernel frames; teams, namespaces, one
process without a team) whose exact totals the obs tests check.

Expected (period 50 ms, so one sample = 0.05 CPU seconds):
  checkout (team payments, ns shop):   crypto/sha256.block 60, runtime.mallocgc 20,
                                       vfs_write 10 (kernel under syscall.Syscall)
  search (team discovery, ns shop):    score 30 (cpython), memcpy 10 (native)
  postgres (no team):                  hash_search 25
  fraud (team payments, ns risk):      fraud.rule00..rule14, rule k has 15 - k samples
  batch (team discovery, no ns):       only in the second request: compress 5
Run from the repository root: python3 tests/data/obs/gen_fixture.py
"""
import json
import os

PERIOD = 50_000_000
T0 = 1_764_000_000_000_000_000


class Request:
    def __init__(self):
        self.strings = [""]
        self.functions = [{}]
        self.locations = [{}]
        self.stacks = [{}]
        self.attrs = [{}]
        self.mappings = [{}]
        self.resources = []
        self._fn, self._loc, self._stack, self._attr = {}, {}, {}, {}

    def s(self, v):
        if v not in self.strings:
            self.strings.append(v)
        return self.strings.index(v)

    def attr(self, key, value):
        k = (key, value)
        if k not in self._attr:
            self._attr[k] = len(self.attrs)
            self.attrs.append({"keyStrindex": self.s(key), "value": {"stringValue": value}})
        return self._attr[k]

    def loc(self, name, kind, filename=""):
        k = (name, kind)
        if k not in self._loc:
            if name not in self._fn:
                self._fn[name] = len(self.functions)
                f = {"nameStrindex": self.s(name)}
                if filename:
                    f["filenameStrindex"] = self.s(filename)
                self.functions.append(f)
            self._loc[k] = len(self.locations)
            self.locations.append({
                "lines": [{"functionIndex": self._fn[name]}],
                "attributeIndices": [self.attr("profile.frame.type", kind)],
            })
        return self._loc[k]

    def stack(self, frames):
        """frames: root first, as (name, kind); stored leaf first."""
        ids = tuple(self.loc(n, k) for n, k in reversed(frames))
        if ids not in self._stack:
            self._stack[ids] = len(self.stacks)
            self.stacks.append({"locationIndices": list(ids)})
        return self._stack[ids]

    def resource(self, attrs, samples):
        """samples: list of (frames, count); count as timestamps or as a value."""
        out = []
        for i, (frames, count) in enumerate(samples):
            smp = {"stackIndex": self.stack(frames)}
            if i % 2 == 0:
                smp["timestampsUnixNano"] = [str(T0 + j * PERIOD) for j in range(count)]
            else:
                smp["values"] = [str(count)]
            out.append(smp)
        self.resources.append({
            "resource": {"attributes": [{"key": k, "value": {"stringValue": v}}
                                        for k, v in attrs.items()]},
            "scopeProfiles": [{
                "scope": {"name": "otelprofd"},
                "profiles": [{
                    "sampleType": {"typeStrindex": self.s("samples"),
                                   "unitStrindex": self.s("count")},
                    "periodType": {"typeStrindex": self.s("cpu"),
                                   "unitStrindex": self.s("nanoseconds")},
                    "period": str(PERIOD),
                    "timeUnixNano": str(T0),
                    "durationNano": str(10 * 1_000_000_000),
                    "samples": out,
                }],
            }],
        })

    def json(self):
        return json.dumps({
            "resourceProfiles": self.resources,
            "dictionary": {
                "mappingTable": self.mappings,
                "locationTable": self.locations,
                "functionTable": self.functions,
                "stringTable": self.strings,
                "attributeTable": self.attrs,
                "stackTable": self.stacks,
            },
        }, separators=(",", ":"))


GO = "go"
K = "kernel"
N = "native"
PY = "cpython"


def first():
    r = Request()
    base = [("runtime.main", GO), ("main.main", GO), ("main.handleCheckout", GO)]
    r.resource({"service.name": "checkout", "k8s.namespace.name": "shop", "team": "payments",
                "process.executable.name": "checkout"}, [
        (base + [("crypto/sha256.block", GO)], 40),
        (base + [("main.encodeReceipt", GO), ("runtime.mallocgc", GO)], 20),
        (base + [("crypto/sha256.block", GO)], 20),
        (base + [("syscall.Syscall", GO), ("entry_SYSCALL_64", K), ("do_syscall_64", K),
                 ("ksys_write", K), ("vfs_write", K)], 10),
    ])
    py = [("_start", N), ("Py_RunMain", N), ("<module>", PY), ("main", PY), ("search", PY)]
    r.resource({"service.name": "search", "k8s.namespace.name": "shop", "team": "discovery",
                "process.executable.name": "python3"}, [
        (py + [("score", PY)], 30),
        (py + [("tokenize", PY), ("_PyEval_EvalFrameDefault", N), ("memcpy", N)], 10),
    ])
    r.resource({"process.executable.name": "postgres"}, [
        ([("main", N), ("PostgresMain", N), ("exec_simple_query", N), ("ExecScan", N),
          ("hash_search", N)], 25),
    ])
    return r


def second():
    r = Request()
    r.resource({"service.name": "fraud", "k8s.namespace.name": "risk", "team": "payments",
                "process.executable.name": "fraud"}, [
        ([("main", N), ("fraud.evaluate", N), ("fraud.rule%02d" % k, N)], 15 - k)
        for k in range(15)
    ])
    r.resource({"service.name": "batch", "team": "discovery",
                "process.executable.name": "batch"}, [
        ([("main", N), ("compress", N)], 5),
    ])
    return r


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "cpu.jsonl"), "w") as f:
        f.write(first().json() + "\n")
        f.write(second().json() + "\n")


if __name__ == "__main__":
    main()
