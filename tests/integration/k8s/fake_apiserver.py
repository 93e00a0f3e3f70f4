#!/usr/bin/env python3
"""A small Kubernetes API server for tests: LIST (with limit/continue chunking) and
streaming WATCH (real HTTP/1.1 chunked responses, one JSON event per line, bookmarks,
ERROR 410 events for compacted resourceVersions) of pods, replicasets, jobs and
namespaces, served from a JSON fixture over TLS or plain HTTP on 127.0.0.1 only.

Bearer tokens are checked against a file that is re-read on every request (one accepted
token per line), so a test can rotate them. --namespaced NS answers 403 to every
cluster-wide or other-namespace path, like a namespaced Role does.

Test control (no auth, loopback only):
  POST /_control/apply     {"kind": "pods", "type": "ADDED|MODIFIED|DELETED", "object": {...}}
  POST /_control/compact   forget the event history: every open watch gets an ERROR 410
                           event and a watch from any version seen so far is answered 410
  POST /_control/drop      cut every open watch connection without a final chunk
  POST /_control/expire_continue   the next continue token is answered with 410
  GET  /_control/requests  every request line served so far, as a JSON list
  GET  /_control/state     {"rv": N, "watches": open watch count}
"""
import argparse
import copy
import json
import os
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KINDS = {
    "pods": ("/api/v1", "Pod", "v1"),
    "namespaces": ("/api/v1", "Namespace", "v1"),
    "replicasets": ("/apis/apps/v1", "ReplicaSet", "apps/v1"),
    "jobs": ("/apis/batch/v1", "Job", "batch/v1"),
    "deployments": ("/apis/apps/v1", "Deployment", "apps/v1"),
    "statefulsets": ("/apis/apps/v1", "StatefulSet", "apps/v1"),
    "daemonsets": ("/apis/apps/v1", "DaemonSet", "apps/v1"),
}


class State:
    def __init__(self, fixture):
        self.lock = threading.Condition()
        self.rv = 100
        self.objects = {k: {} for k in KINDS}  # kind -> (ns, name) -> object
        self.history = []  # (rv, kind, type, object)
        self.oldest = self.rv  # watches from before this get 410
        self.drop_gen = 0
        self.expire_continue = False
        self.requests = []
        self.watches = 0
        with self.lock:
            for kind, items in fixture.items():
                for obj in items:
                    self.apply(kind, "ADDED", obj)
        self.history.clear()
        self.oldest = self.rv

    def apply(self, kind, typ, obj):
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        key = (meta.get("namespace", ""), meta["name"])
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        if typ == "DELETED":
            old = self.objects[kind].pop(key, None)
            if old is not None:
                obj = copy.deepcopy(old)
                obj["metadata"]["resourceVersion"] = str(self.rv)
        else:
            typ = "MODIFIED" if key in self.objects[kind] else "ADDED"
            self.objects[kind][key] = obj
        self.history.append((self.rv, kind, typ, obj))
        self.lock.notify_all()


def parse_path(path):
    """Returns (kind, namespace or '') for a collection path, or None."""
    for kind, (prefix, _, _) in KINDS.items():
        if not path.startswith(prefix + "/"):
            continue
        rest = path[len(prefix) + 1:].split("/")
        if rest == [kind]:
            return kind, ""
        if kind != "namespaces" and len(rest) == 3 and rest[0] == "namespaces" and rest[2] == kind:
            return kind, rest[1]
    return None


def field_match(obj, selector):
    for term in filter(None, (selector or "").split(",")):
        field, _, want = term.partition("=")
        val = obj
        for part in field.split("."):
            val = val.get(part, {}) if isinstance(val, dict) else {}
        if val != want:
            return False
    return True


def make_handler(state, args):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            if args.verbose:
                sys.stderr.write("fake-apiserver: " + fmt % a + "\n")

        def send_json(self, code, body):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def status(self, code, reason, msg):
            self.send_json(code, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                  "status": "Failure", "message": msg, "reason": reason,
                                  "code": code})

        def authorized(self):
            if not args.tokens:
                return True
            # A verified client certificate authenticates, as x509 auth does on a real server.
            if args.client_ca and isinstance(self.connection, ssl.SSLSocket) and \
                    self.connection.getpeercert():
                return True
            try:
                with open(args.tokens) as f:
                    good = {line.strip() for line in f if line.strip()}
            except OSError:
                good = set()
            auth = self.headers.get("Authorization", "")
            return auth.startswith("Bearer ") and auth[7:] in good

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0") or 0)
            body = json.loads(self.rfile.read(n) or b"{}")
            with state.lock:
                if self.path == "/_control/apply":
                    state.apply(body["kind"], body["type"], body["object"])
                elif self.path == "/_control/compact":
                    state.history.clear()
                    state.rv += 1  # as if other writes happened, then compaction
                    state.oldest = state.rv
                    state.lock.notify_all()
                elif self.path == "/_control/drop":
                    state.drop_gen += 1
                    state.lock.notify_all()
                elif self.path == "/_control/expire_continue":
                    state.expire_continue = True
                else:
                    return self.status(404, "NotFound", "no such control")
                rv = state.rv
            self.send_json(200, {"rv": rv})

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            q = dict(urllib.parse.parse_qsl(url.query))
            if url.path == "/_control/requests":
                with state.lock:
                    return self.send_json(200, list(state.requests))
            if url.path == "/_control/state":
                with state.lock:
                    return self.send_json(200, {"rv": state.rv, "watches": state.watches})
            with state.lock:
                state.requests.append(self.path)
            if not self.authorized():
                return self.status(401, "Unauthorized", "Unauthorized")
            target = parse_path(url.path)
            if not target:
                return self.status(404, "NotFound", "the server could not find the requested resource")
            kind, ns = target
            if args.namespaced and (ns != args.namespaced):
                return self.status(403, "Forbidden",
                                   'cannot list resource "%s" at the cluster scope' % kind)
            if q.get("watch") in ("1", "true"):
                return self.watch(kind, ns, q)
            return self.list(kind, ns, q)

        def visible(self, obj, ns, q):
            return (not ns or obj["metadata"].get("namespace") == ns) and \
                field_match(obj, q.get("fieldSelector"))

        def list(self, kind, ns, q):
            limit = int(q.get("limit", "0") or 0)
            start = 0
            with state.lock:
                if q.get("continue"):
                    if state.expire_continue:
                        state.expire_continue = False
                        return self.status(410, "Expired",
                                           "The provided continue parameter is too old")
                    tok = json.loads(urllib.parse.unquote(q["continue"]))
                    start, rv = tok["start"], tok["rv"]
                else:
                    rv = state.rv
                items = [copy.deepcopy(o) for _, o in sorted(state.objects[kind].items())
                         if self.visible(o, ns, q)]
            page = items[start:start + limit] if limit else items[start:]
            meta = {"resourceVersion": str(rv)}
            if limit and start + limit < len(items):
                meta["continue"] = urllib.parse.quote(json.dumps({"start": start + limit, "rv": rv}))
            prefix, k, api = KINDS[kind]
            self.send_json(200, {"kind": k + "List", "apiVersion": api, "metadata": meta,
                                 "items": page or None})

        def chunk(self, data):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def watch(self, kind, ns, q):
            since = int(q.get("resourceVersion") or 0)
            timeout = float(q.get("timeoutSeconds") or 300)
            bookmarks = q.get("allowWatchBookmarks") == "true"
            _, k, api = KINDS[kind]
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            deadline = time.monotonic() + timeout
            next_bm = time.monotonic() + args.bookmark_interval
            with state.lock:
                gen = state.drop_gen
                state.watches += 1
            try:
                if since and since < state.oldest:
                    ev = {"type": "ERROR", "object": {
                        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                        "message": "too old resource version: %d (%d)" % (since, state.oldest),
                        "reason": "Expired", "code": 410}}
                    self.chunk(json.dumps(ev).encode() + b"\n")
                    self.chunk(b"")
                    return
                while True:
                    with state.lock:
                        now = time.monotonic()
                        wait = min(deadline, next_bm) - now
                        if wait > 0 and state.drop_gen == gen and \
                                not any(rv > since for rv, *_ in state.history):
                            state.lock.wait(wait)
                        if state.drop_gen != gen:
                            # Cut the connection: no terminating chunk.
                            self.connection.shutdown(socket.SHUT_RDWR)
                            self.close_connection = True
                            return
                        if since < state.oldest:
                            evs = [("ERROR", None)]
                        else:
                            evs = [(t, o) for rv, kd, t, o in state.history
                                   if rv > since and kd == kind and self.visible(o, ns, q)]
                            since = max([since] + [rv for rv, *_ in state.history])
                        cur = state.rv
                    for typ, obj in evs:
                        if typ == "ERROR":
                            ev = {"type": "ERROR", "object": {"kind": "Status", "code": 410,
                                                              "reason": "Expired",
                                                              "message": "too old resource version"}}
                            self.chunk(json.dumps(ev).encode() + b"\n")
                            self.chunk(b"")
                            return
                        line = json.dumps({"type": typ, "object": obj}).encode() + b"\n"
                        # Split each event over two chunks, as proxies and the server may.
                        half = len(line) // 2
                        self.chunk(line[:half])
                        self.chunk(line[half:])
                    now = time.monotonic()
                    if bookmarks and now >= next_bm:
                        bm = {"type": "BOOKMARK", "object": {
                            "kind": k, "apiVersion": api,
                            "metadata": {"resourceVersion": str(cur)}}}
                        self.chunk(json.dumps(bm).encode() + b"\n")
                        next_bm = now + args.bookmark_interval
                    if now >= deadline:
                        self.chunk(b"")
                        return
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
                self.close_connection = True
            finally:
                with state.lock:
                    state.watches -= 1

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--port", type=int, default=0, help="port to listen on (default: any free)")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--tokens", help="file of accepted bearer tokens, re-read per request")
    ap.add_argument("--client-ca", help="require TLS client certificates signed by this CA")
    ap.add_argument("--namespaced", help="only this namespace's endpoints are allowed")
    ap.add_argument("--bookmark-interval", type=float, default=1.0)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    with open(args.fixture) as f:
        state = State(json.load(f))
    ThreadingHTTPServer.allow_reuse_address = True
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(state, args))
    srv.daemon_threads = True
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        if args.client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(args.client_ca)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
