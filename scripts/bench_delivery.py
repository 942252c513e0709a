#!/usr/bin/env python3
"""Delivery benchmark (issue 3): 10,000 capsules due in the same minute, one recipient each
(the owner), delivered by 2 worker processes on PostgreSQL into a local SMTP server; the
time until the last arrives, beside the same SMTP server's intake rate for 10,000 plain
messages sent by a simple loop in the same run.

Usage: scripts/bench-delivery.sh [N]
"""
import concurrent.futures, datetime, json, os, shutil, smtplib, socket, subprocess, sys, tempfile, time, urllib.request, uuid

BIN = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
PG = os.environ.get("ITC_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
PASSWORD = "glacier-otter-lamp-71"
SECRET = "bench-secret-bench-secret-bench-secret-0123"


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def wait_port(port):
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close(); return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing on port {port}")


def call(method, url, body=None, token=None):
    h = {}
    data = None
    if body is not None:
        data = json.dumps(body).encode(); h["content-type"] = "application/json"
    if token:
        h["authorization"] = f"Bearer {token}"
    with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method, headers=h), timeout=60) as r:
        raw = r.read()
        return json.loads(raw) if raw else None


class Smtp:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="itc-smtp-")
        self.port = free_port()
        self.proc = subprocess.Popen(["python3", "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.port}",
                                      "-c", "aiosmtpd.handlers.Mailbox", os.path.join(self.dir, "md")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def count(self):
        try:
            return len(os.listdir(os.path.join(self.dir, "md", "new")))
        except FileNotFoundError:
            return 0

    def stop(self):
        self.proc.terminate(); self.proc.wait(); shutil.rmtree(self.dir, ignore_errors=True)


def server(db_url, data_dir, smtp_port, ticker):
    port = free_port()
    args = [BIN, "--bind", f"127.0.0.1:{port}", "--database-url", db_url, "--data-dir", data_dir,
            "--smtp-url", f"smtp://127.0.0.1:{smtp_port}", "--min-lead", "1s", "--delivery-interval", "1s"]
    if not ticker:
        args.append("--no-delivery-ticker")
    p = subprocess.Popen(args, env=dict(os.environ, RUST_LOG="warn", ITC_JWT_SECRET=SECRET), stdout=subprocess.DEVNULL)
    wait_port(port)
    return p, f"http://127.0.0.1:{port}"


def main():
    name = f"itc_bench_{uuid.uuid4().hex}"
    subprocess.run(["psql", PG, "-qc", f"CREATE DATABASE {name}"], check=True)
    db_url = PG.rsplit("/", 1)[0] + "/" + name
    data = tempfile.mkdtemp(prefix="itc-bench-")
    procs = []
    try:
        # Baseline: the SMTP server's intake of N plain messages from a simple loop.
        base = Smtp()
        t = time.time()
        conn = smtplib.SMTP("127.0.0.1", base.port)
        for i in range(N):
            conn.sendmail("loop@example.com", [f"r{i}@example.com"],
                          f"From: loop@example.com\r\nTo: r{i}@example.com\r\nSubject: plain {i}\r\n\r\nhello {i}\r\n")
        conn.quit()
        while base.count() < N:
            time.sleep(0.01)
        loop_s = time.time() - t
        base.stop()

        # N sealed capsules, all due in the same minute, created through the API.
        smtp = Smtp()
        api, url = server(db_url, data, smtp.port, ticker=False)
        procs.append(api)
        users = []
        for u in range(max(1, N // 100)):
            email = f"bench{u}-{uuid.uuid4().hex[:8]}@example.com"
            call("POST", f"{url}/v1/accounts", {"email": email, "password": PASSWORD})
            users.append(call("POST", f"{url}/v1/sessions", {"email": email, "password": PASSWORD})["access_token"])
        due = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=120)).replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)
        open_at = due.strftime("%Y-%m-%dT%H:%M:%SZ")

        def make(i):
            token = users[i % len(users)]
            cid = str(uuid.uuid4())
            call("PUT", f"{url}/v1/capsules/{cid}", {"title": f"Capsule {i}", "note": "See you in a year.",
                                                   "open_at": open_at, "time_zone": "UTC", "recipients": []}, token)
            call("POST", f"{url}/v1/capsules/{cid}/seal", None, token)
        t = time.time()
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            list(ex.map(make, range(N)))
        print(f"created and sealed {N} capsules in {time.time() - t:.1f} s (all open at {open_at})", flush=True)
        while datetime.datetime.now(datetime.timezone.utc) < due:
            time.sleep(0.2)
        # Two delivery workers start once everything is due.
        t = time.time()
        for _ in range(2):
            p, _ = server(db_url, data, smtp.port, ticker=True)
            procs.append(p)
        while smtp.count() < N:
            time.sleep(0.05)
            if time.time() - t > 1800:
                raise SystemExit(f"only {smtp.count()} of {N} delivered after 30 min")
        deliver_s = time.time() - t
        time.sleep(3)
        extra = smtp.count() - N
        smtp.stop()
        loop_rate, our_rate = N / loop_s, N / deliver_s
        print(f"smtp_intake_simple_loop: {N} plain messages in {loop_s:.1f} s = {loop_rate:.0f} msg/s")
        print(f"delivery_2_workers_postgres: {N} capsules opened and emailed in {deliver_s:.1f} s = {our_rate:.0f} msg/s, duplicates {extra}")
        print(f"ratio_time_vs_loop: {deliver_s / loop_s:.2f} (goal <= 2.0)")
    finally:
        for p in procs:
            p.terminate(); p.wait()
        subprocess.run(["psql", PG, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"])
        shutil.rmtree(data, ignore_errors=True)


main()
