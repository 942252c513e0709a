#!/usr/bin/env python3
"""Times the desktop app from launch to its library on screen, and samples the memory of the
app and every process it starts (WebKit's web and network processes) while it does.

The app logs "library shown" with the number of capsules once the window has painted the
library (two animation frames after the list arrived). Time is measured here, from just
before the process is spawned to the moment that line appears. Memory is the sum over the
process tree, sampled every 10 ms until then and for one second after: RSS (what `ps`
shows; shared libraries counted once per process) and PSS (shared pages split between the
processes that map them, the fairer sum).

Usage: bench_startup.py APP EMPTY_LIBRARY FULL_LIBRARY RUNS
"""
import os, re, statistics, subprocess, sys, threading, time

APP, EMPTY, FULL, RUNS = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
SHOWN = re.compile(r"library shown.*capsules=(\d+)")


def tree(root):
    """The pids of root and all its descendants."""
    children = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(pid))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def memory(pids):
    rss = pss = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            pass
    return rss / 1024, pss / 1024


def run(library):
    log = open(os.path.join(library, "..", f"run-{os.path.basename(library)}.log"), "w+")
    t0 = time.perf_counter()
    proc = subprocess.Popen([APP, "--data-dir", library, "--server", "http://127.0.0.1:9"],
                            stdout=subprocess.DEVNULL, stderr=log, env={**os.environ, "ITC_LOG": "info"})
    peak = [0.0, 0.0]
    shown_at = None
    capsules = None
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            rss, pss = memory(tree(proc.pid))
            peak[0] = max(peak[0], rss)
            peak[1] = max(peak[1], pss)
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        deadline = t0 + 60
        while time.perf_counter() < deadline:
            log.seek(0)
            m = SHOWN.search(log.read())
            if m:
                shown_at = time.perf_counter() - t0
                capsules = int(m.group(1))
                break
            if proc.poll() is not None:
                break
            time.sleep(0.005)
        time.sleep(1.0)
    finally:
        stop.set()
        sampler.join()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if shown_at is None:
        log.seek(0)
        sys.exit(f"the app never showed its library:\n{log.read()}")
    return shown_at, capsules, peak[0], peak[1]


def measure(name, library):
    run(library)  # a first launch fills the page cache with the binary and WebKit
    rows = [run(library) for _ in range(RUNS)]
    t = [r[0] for r in rows]
    rss = [r[2] for r in rows]
    pss = [r[3] for r in rows]
    print(f"{name:<26} capsules={rows[0][1]:>5}  start median {statistics.median(t):.3f} s"
          f" (max {max(t):.3f})  peak PSS median {statistics.median(pss):6.1f} MB (max {max(pss):.1f})"
          f"  peak RSS median {statistics.median(rss):6.1f} MB")
    return statistics.median(t), statistics.median(pss)


base_t, base_m = measure("baseline: empty library", EMPTY)
full_t, full_m = measure("1,000 capsules", FULL)
print(f"1,000 capsules cost {full_t - base_t:+.3f} s and {full_m - base_m:+.1f} MB over the empty app;"
      f" goal under 1.5 s and 250 MB: {'met' if full_t < 1.5 and full_m < 250 else 'NOT met'}")
