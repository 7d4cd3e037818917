"""A webhook receiver for the tests: listens on 127.0.0.1, verifies every delivery with the
`standardwebhooks` package (Standard Webhooks' own library, which nobody here wrote), answers as the
test told it to, and records what it got.

Control (JSON):
  POST /_control {"path": "/a", "secrets": ["whsec_..."], "fail_first": 2, "fail_status": 500,
                  "always_fail": false, "retry_after": "1", "delay_first_s": 0}
  GET  /_log     -> [{"path", "webhook_id", "verified": [bool per secret], "error", "status",
                      "received_at", "body"}]
Prints "PORT <n>" once it listens. Stops when its stdin closes (the test process ended).
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

LOCK = threading.Lock()
ROUTES = {}
LOG = []
BODY_LEN_MAX = 256 * 1024


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, payload, headers=()):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        length = min(int(self.headers.get("Content-Length", "0")), BODY_LEN_MAX)
        return self.rfile.read(length)

    def do_GET(self):
        if self.path == "/_log":
            with LOCK:
                self.answer(200, LOG)
        else:
            self.answer(404, {})

    def do_POST(self):
        body = self.read_body()
        if self.path == "/_control":
            rule = json.loads(body)
            with LOCK:
                ROUTES[rule["path"]] = dict(rule, seen=0)
            self.answer(200, {"ok": True})
            return
        with LOCK:
            rule = ROUTES.get(self.path, {"secrets": [], "seen": 0})
            rule["seen"] += 1
            seen = rule["seen"]
        headers = {name.lower(): value for name, value in self.headers.items()}
        verified, error = [], None
        for secret in rule.get("secrets", []):
            try:
                Webhook(secret).verify(body, headers)
                verified.append(True)
            except Exception as problem:  # the library's verification error, or a bad header
                verified.append(False)
                error = repr(problem)
        if seen == 1 and rule.get("delay_first_s"):
            time.sleep(rule["delay_first_s"])
        failing = rule.get("always_fail") or seen <= rule.get("fail_first", 0)
        status = rule.get("fail_status", 500) if failing else 200
        extra = []
        if failing and rule.get("retry_after"):
            extra.append(("Retry-After", rule["retry_after"]))
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        with LOCK:
            LOG.append({
                "path": self.path,
                "webhook_id": headers.get("webhook-id"),
                "signature": headers.get("webhook-signature"),
                "verified": verified,
                "error": error,
                "status": status,
                "received_at": time.time(),
                "body": parsed,
            })
        self.answer(status, {"received": not failing}, extra)


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print("PORT %d" % server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()  # returns when the test closes our stdin or exits
    server.shutdown()


if __name__ == "__main__":
    main()
