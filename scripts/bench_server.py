#!/usr/bin/env python3
"""Benchmarks of the sync server (issue 2), each beside a baseline measured in the same run.

1. GET /v1/sync of a 100-capsule page, valid token, 32 connections (wrk), beside /healthz
   of the same server: requests/s and p99 of each. Runs on PostgreSQL (and SQLite).
2. Peak RSS of the server while 4 clients each upload a 200 MB file through the streaming
   endpoint at once (in 16 MiB parts, as the desktop sends large originals), beside its RSS
   at rest.

Usage: scripts/bench-server.sh (builds the release binary, then runs this).
"""
import hashlib
import http.client
import json, os, re, shutil, subprocess, sys, tempfile, threading, time, urllib.parse, urllib.request, uuid

BIN = sys.argv[1]
PG = os.environ.get("ITC_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
PASSWORD = "glacier-otter-lamp-71"


def free_port():
    import socket
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def call(method, url, body=None, token=None, headers=None, data=None):
    h = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode(); h["content-type"] = "application/json"
    if token:
        h["authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    with urllib.request.urlopen(req, timeout=600) as r:
        raw = r.read()
        return json.loads(raw) if raw else None


class Server:
    def __init__(self, database_url=None):
        self.dir = tempfile.mkdtemp(prefix="itc-bench-")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        args = [BIN, "--bind", f"127.0.0.1:{self.port}", "--data-dir", self.dir]
        if database_url:
            args += ["--database-url", database_url]
        env = dict(os.environ, RUST_LOG="warn", ITC_MAX_PHOTO_BYTES=str(300 * 1024 * 1024))
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL)
        for _ in range(200):
            try:
                call("GET", self.base + "/healthz"); return
            except Exception:
                time.sleep(0.05)
        raise SystemExit("server did not start")

    def rss_kb(self, field):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def user(self):
        email = f"bench-{uuid.uuid4().hex}@example.com"
        call("POST", self.base + "/v1/accounts", {"email": email, "password": PASSWORD})
        return call("POST", self.base + "/v1/sessions", {"email": email, "password": PASSWORD})["access_token"]

    def stop(self):
        self.proc.terminate(); self.proc.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)


def wrk(url, token=None, seconds=10):
    args = ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency"]
    if token:
        args += ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(args + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, p99_ms, int(errors.group(1)) if errors else 0


def bench_sync(label, database_url):
    s = Server(database_url)
    try:
        token = s.user()
        open_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400 * 30))
        for i in range(100):
            call("PUT", f"{s.base}/v1/capsules/{uuid.uuid4()}", {
                "title": f"Capsule {i}", "note": "A note of a few words " * 5, "open_at": open_at,
                "time_zone": "Europe/Paris", "recipients": ["a@example.com", "b@example.com"]}, token)
        page = call("GET", f"{s.base}/v1/sync?since=0&limit=100", token=token)
        assert len(page["changes"]) == 100, len(page["changes"])
        wrk(f"{s.base}/healthz", seconds=2)  # warm-up
        sync = wrk(f"{s.base}/v1/sync?since=0&limit=100", token)
        health = wrk(f"{s.base}/healthz")
        print(f"sync_{label}: {sync[0]:.0f} req/s, p99 {sync[1]:.2f} ms, errors {sync[2]}")
        print(f"healthz_{label}: {health[0]:.0f} req/s, p99 {health[1]:.2f} ms, errors {health[2]}")
    finally:
        s.stop()


def put_slice(url, headers, path, offset, size):
    """PUTs `size` bytes of a file from `offset`, streamed in 1 MiB writes."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    conn.putrequest("PUT", u.path + ("?" + u.query if u.query else ""))
    for k, v in headers.items():
        conn.putheader(k, v)
    conn.putheader("content-length", str(size))
    conn.endheaders()
    with open(path, "rb") as f:
        f.seek(offset)
        left = size
        while left:
            chunk = f.read(min(left, 1 << 20))
            conn.send(chunk)
            left -= len(chunk)
    res = conn.getresponse()
    res.read()
    conn.close()
    if res.status >= 300:
        raise RuntimeError(f"part upload answered {res.status}")


def bench_upload_memory():
    s = Server()
    try:
        token = s.user()
        cap = str(uuid.uuid4())
        call("PUT", f"{s.base}/v1/capsules/{cap}", {"title": "Big", "time_zone": "UTC"}, token)
        files = []
        tmp = tempfile.mkdtemp(prefix="itc-bench-files-")
        for i in range(4):
            path = os.path.join(tmp, f"big{i}.bin")
            with open(path, "wb") as f:
                for _ in range(200):
                    f.write(os.urandom(1024 * 1024))
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            pid = str(uuid.uuid4())
            d = call("PUT", f"{s.base}/v1/capsules/{cap}/photos/{pid}",
                     {"sha256": h.hexdigest(), "size": os.path.getsize(path), "content_type": "image/jpeg"}, token)
            # 200 MB is over the single-upload size: the original goes up in parts.
            files.append((path, d["multipart"]))
        rest = s.rss_kb("VmRSS")
        peak = [0]; done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], s.rss_kb("VmRSS")); time.sleep(0.01)
        threading.Thread(target=sample, daemon=True).start()
        start = time.time()
        codes = [None] * len(files)

        def send_parts(i, path, multipart):
            try:
                for part in multipart["parts"]:
                    offset = (part["number"] - 1) * multipart["part_size"]
                    put_slice(part["url"], part["headers"], path, offset, part["size"])
                codes[i] = 0
            except Exception as e:  # noqa: BLE001 - reported below
                codes[i] = repr(e)
        threads = [threading.Thread(target=send_parts, args=(i, p, m)) for i, (p, m) in enumerate(files)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.time() - start
        done.set()
        hwm = s.rss_kb("VmHWM")
        assert codes == [0, 0, 0, 0], codes
        # The folder store keeps each upload's parts under .multipart/<upload id>/ until the
        # client completes it: every part of all four must be there.
        multipart = os.path.join(s.dir, "blobs", ".multipart")
        held = sorted(len(os.listdir(d.path)) for d in os.scandir(multipart))
        wanted = sorted(len(m["parts"]) for _, m in files)
        print(f"upload_4x200MB: {800 / elapsed:.0f} MB/s total in {elapsed:.1f} s, all 4 stored: {held == wanted}")
        print(f"server_rss_at_rest: {rest / 1024:.1f} MB")
        print(f"server_peak_rss_during_uploads: {max(peak[0], hwm) / 1024:.1f} MB (VmHWM {hwm / 1024:.1f} MB; goal < 80 MB)")
        shutil.rmtree(tmp, ignore_errors=True)
    finally:
        s.stop()


def fresh_pg():
    name = f"itc_bench_{uuid.uuid4().hex}"
    subprocess.run(["psql", PG, "-qc", f"CREATE DATABASE {name}"], check=True)
    return name, PG.rsplit("/", 1)[0] + "/" + name


if __name__ == "__main__":
    name, url = fresh_pg()
    try:
        bench_sync("postgres", url)
    finally:
        subprocess.run(["psql", PG, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"])
    bench_sync("sqlite", None)
    bench_upload_memory()
