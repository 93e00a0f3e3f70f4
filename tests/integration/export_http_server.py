#!/usr/bin/env python3
"""A small OTLP/HTTP receiver for the otlp_http exporter's tests (standard library only).

Accepts POST on /v1development/profiles, undoes Content-Encoding gzip, stores each body
as OUT/req-N.bin and appends one JSON line per request to OUT/requests.jsonl (written
before the answer is sent). Flags make it fail the first N requests (with Retry-After),
require a header, or answer with a partial success."""
import argparse
import gzip
import http.server
import json
import os
import ssl
import sys
import threading


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def partial_success_proto(rejected, msg):
    inner = b"\x08" + varint(rejected)
    if msg:
        m = msg.encode()
        inner += b"\x12" + varint(len(m)) + m
    return b"\x0a" + varint(len(inner)) + inner


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--fail-first", type=int, default=0)
    ap.add_argument("--fail-status", type=int, default=503)
    ap.add_argument("--retry-after", default=None)
    ap.add_argument("--require-header", action="append", default=[])
    ap.add_argument("--partial-success", default=None)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    lock = threading.Lock()
    state = {"n": 0, "failed": 0}
    required = [h.split("=", 1) for h in args.require_header]

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            pass

        def answer(self, status, body=b"", ctype="application/x-protobuf", extra=None):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            enc = self.headers.get("Content-Encoding", "")
            rec = {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                   "wire_bytes": len(raw), "encoding": enc}
            with lock:
                state["n"] += 1
                n = state["n"]
                if self.path != "/v1development/profiles":
                    status = 404
                elif any(self.headers.get(k) != v for k, v in required):
                    status = 401
                elif enc not in ("", "identity", "gzip"):
                    status = 415
                elif state["failed"] < args.fail_first:
                    state["failed"] += 1
                    status = args.fail_status
                else:
                    status = 200
                body = raw
                if status == 200 and enc == "gzip":
                    try:
                        body = gzip.decompress(raw)
                    except OSError as e:
                        status, rec["error"] = 400, str(e)
                if status == 200:
                    name = os.path.join(args.out, "req-%d.bin" % n)
                    with open(name, "wb") as f:
                        f.write(body)
                    rec["file"] = name
                    rec["bytes"] = len(body)
                rec["status"] = status
                with open(os.path.join(args.out, "requests.jsonl"), "a") as f:
                    f.write(json.dumps(rec) + "\n")
            extra = {}
            if status in (429, 503) and args.retry_after is not None:
                extra["Retry-After"] = args.retry_after
            ctype = self.headers.get("Content-Type", "application/x-protobuf")
            if status == 200 and args.partial_success:
                cnt, _, msg = args.partial_success.partition(":")
                if "json" in ctype:
                    out = json.dumps({"partialSuccess": {"rejectedProfiles": cnt,
                                                         "errorMessage": msg}}).encode()
                else:
                    out = partial_success_proto(int(cnt), msg)
                self.answer(200, out, ctype)
            elif status == 200:
                self.answer(200, b"{}" if "json" in ctype else b"", ctype)
            else:
                self.answer(status, json.dumps({"code": status, "message": "test"}).encode(),
                            "application/json", extra)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, args.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
