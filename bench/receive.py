"""Benchmark: `zsaudit receive` on loopback — accepted records/s and ack latency (p50/p99).

Starts the receiver as a process (uvicorn, plain HTTP on 127.0.0.1; every batch fsync'd before
its 200), then C client threads (persistent keep-alive connections) post B gzip'd batches of R
synthetic Cloud NSS web records each, measuring each POST from the first byte sent to the answer.

    .venv/bin/python bench/receive.py [--batches 2000] [--records 500] [--clients 8]

Prints one line for docs/benchmarks.md, with the machine's load (the machine may be shared).
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from zsaudit.synth import synthesize  # noqa: E402

TOKEN = "bench-token"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=2000)
    ap.add_argument("--records", type=int, default=500, help="records per batch")
    ap.add_argument("--clients", type=int, default=8)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="zsaudit-bench-receive-"))
    try:
        night = synthesize(work / "night", requests=max(2000, args.records), seed=3)
        lines = [ln for ln in (night.out_dir / "zscaler" / "zia_web.json").read_bytes().splitlines() if ln]
        bodies = []
        for k in range(16):              # a few distinct bodies, reused (gzip is the sender's cost)
            recs = [lines[(k * 97 + j) % len(lines)] for j in range(args.records)]
            bodies.append(gzip.compress(b"\n".join(recs) + b"\n", compresslevel=6))
        raw = sum(len(b) for b in bodies) / len(bodies)

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        out = work / "nss"
        zsaudit = str(Path(sys.executable).with_name("zsaudit"))
        proc = subprocess.Popen([zsaudit, "receive", "--listen", f"127.0.0.1:{port}", "--out", str(out)],
                                env={**os.environ, "ZSAUDIT_RECEIVE_TOKEN": TOKEN},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait(port)
            latencies: list[float] = []
            lock = threading.Lock()
            counter = iter(range(args.batches))
            failures = []

            def client() -> None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                mine = []
                for i in counter:
                    body = bodies[i % len(bodies)]
                    t0 = time.perf_counter()
                    conn.request("POST", "/services/collector/raw", body=body,
                                 headers={"Authorization": f"Bearer {TOKEN}", "Content-Encoding": "gzip",
                                          "Content-Type": "application/json"})
                    resp = conn.getresponse()
                    resp.read()
                    mine.append(time.perf_counter() - t0)
                    if resp.status != 200:
                        failures.append(resp.status)
                conn.close()
                with lock:
                    latencies.extend(mine)

            load_before = os.getloadavg()
            t0 = time.perf_counter()
            threads = [threading.Thread(target=client) for _ in range(args.clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - t0
            load_after = os.getloadavg()
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        files = sum(1 for p in out.rglob("*.json.gz"))
        assert not failures, f"non-200 answers: {sorted(set(failures))}"
        assert files == args.batches, (files, args.batches)
        latencies.sort()
        p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
        recs = args.batches * args.records
        print(f"| {args.batches} batches x {args.records} records ({raw / 1024:.0f} KiB gzip each), "
              f"{args.clients} clients | {recs / wall:,.0f} records/s ({args.batches / wall:,.0f} batches/s, "
              f"{args.batches * raw / wall / 2**20:.1f} MiB/s gzip) | p50 {p(0.50):.1f} ms, p99 {p(0.99):.1f} ms, "
              f"max {latencies[-1] * 1000:.0f} ms | load {load_before[0]:.1f} -> {load_after[0]:.1f} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _wait(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("receiver did not start")


if __name__ == "__main__":
    main()
