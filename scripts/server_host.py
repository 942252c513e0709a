#!/usr/bin/env python3
"""Starts and stops Linux sync-server processes for tests that run elsewhere (the desktop
tests built for Windows and run under wine): a Windows process cannot start a Linux binary,
and a server that lives outside wine is what a Windows desktop meets in life.

    server_host.py SYNC_SERVER_BINARY   # prints the port it listens on, then serves

A test POSTs JSON to 127.0.0.1:PORT:
    /spawn  {"port": P, "data": DIR or null, "args": [...]}  -> {"pid": N, "data": DIR}
            a server on 127.0.0.1:P with its data in DIR (a new folder when null), logging
            to DIR/server.log; it answers before the server is up (the test polls /healthz)
    /kill   {"pid": N}                                         -> {}
    /remove {"data": DIR}                                      -> {}   (a folder it made)
The host only listens on loopback and only removes folders it made.
"""

import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

BINARY = sys.argv[1]
children: dict[int, subprocess.Popen] = {}
made: set[str] = set()

# What a server started by the desktop tests must not inherit (support/mod.rs does the same).
DROPPED = ("ITC_DATABASE_URL", "ITC_BLOB_STORE", "ITC_SMTP_URL")


def spawn(req):
    data = req.get("data")
    if data is None:
        data = tempfile.mkdtemp(prefix="itc-hosted-")
        made.add(data)
    env = {k: v for k, v in os.environ.items() if k not in DROPPED}
    env["RUST_LOG"] = "info"
    log = open(os.path.join(data, "server.log"), "ab")
    child = subprocess.Popen(
        [BINARY, "--bind", f"127.0.0.1:{int(req['port'])}", "--data-dir", data,
         *[str(a) for a in req["args"]]],
        stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env)
    log.close()
    children[child.pid] = child
    return {"pid": child.pid, "data": data}


def kill(req):
    child = children.pop(int(req["pid"]), None)
    if child is not None:
        child.kill()
        child.wait()
    return {}


def remove(req):
    data = req["data"]
    if data in made:
        made.discard(data)
        shutil.rmtree(data, ignore_errors=True)
    return {}


ROUTES = {"/spawn": spawn, "/kill": kill, "/remove": remove}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        route = ROUTES.get(self.path)
        if route is None:
            self.send_error(404)
            return
        try:
            length = int(self.headers.get("Content-Length", "0"))
            answer = json.dumps(route(json.loads(self.rfile.read(length) or b"{}"))).encode()
            status = 200
        except Exception as e:  # the test gets the reason in its panic message
            answer, status = json.dumps({"error": repr(e)}).encode(), 500
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def stop_all(*_):
    for child in list(children.values()):
        child.kill()
    for data in list(made):
        shutil.rmtree(data, ignore_errors=True)
    sys.exit(0)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, stop_all)
    signal.signal(signal.SIGINT, stop_all)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()
