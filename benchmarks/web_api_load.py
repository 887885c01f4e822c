"""Load of the REST API: ``GET /api/v1/bots`` with 20 bots, from a second process on loopback.

Sets up 20 BANKNIFTY 1-minute replay bots in a temporary folder (real data, each replayed
over 2019-01-01..``--to`` first so that every store holds orders, fills, trades and equity),
starts ``mixbot serve --idle`` with the web GUI on a free loopback port (waitress, 16
threads) and, from this process, sends ``--requests`` GETs of ``/api/v1/bots`` over
``--clients`` keep-alive connections with a bearer token. Prints requests/s, latency p50 /
p99 / max as the client sees it, and the server's own time per request (its
``Server-Timing`` header) for the dashboard's data call and for the dashboard page itself.
Rows are cached by the server for 1 s (``Fleet.row_ttl_s``): the load mostly hits the cache;
"cold" is the server time of single requests made after the cache expired (every row read
from its store).

Usage::

    .venv/bin/python benchmarks/web_api_load.py                   # 20 bots, 400 requests, 4 clients
    .venv/bin/python benchmarks/web_api_load.py --bots 5 --requests 100 --clients 2

A measuring script, not a test: it prints figures and exits 0 unless the data is missing or
the server does not come up.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "web"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _setup(folder: Path, n: int, to: str, data: Path) -> dict[str, str]:
    from rig import PASSWORDS, make_config, settings

    configs = folder / "bots"
    env = {**os.environ, "MIXBOT_DATABASE_URL": f"sqlite:///{folder / 'store.sqlite'}"}
    procs = []
    for i in range(n):
        path = make_config(data, configs, f"b{i:02d}", to)
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "mixbot", "run", str(path), "--no-progress"],
                cwd=folder,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        if len([p for p in procs if p.poll() is None]) >= 2:
            procs[-2].wait()
    for p in procs:
        p.wait()
    web, secrets = settings()
    (folder / "mixbot.json").write_text(
        json.dumps(
            {
                "web": {
                    "port": 5000,
                    "users": [
                        {"name": u.name, "password_hash": u.password_hash, "role": u.role}
                        for u in web.users
                    ],
                }
            }
        )
    )
    env.update(secrets)
    env["BENCH_PASSWORD"] = PASSWORDS["admin"]
    return env


def _wait_up(port: int, deadline_s: float = 120.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server did not answer on 127.0.0.1:{port}")


def _token(port: int, password: str) -> str:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = json.dumps({"username": "admin", "password": password})
    c.request("POST", "/api/v1/auth/token", body, {"Content-Type": "application/json"})
    return str(json.loads(c.getresponse().read())["access_token"])


def _server_ms(resp: http.client.HTTPResponse) -> float:
    timing = resp.getheader("Server-Timing") or "app;dur=nan"
    return float(timing.split("dur=")[1])


def _load(
    port: int, token: str, requests: int, clients: int
) -> tuple[list[float], list[float], float]:
    lat: list[float] = []
    srv: list[float] = []
    lock = threading.Lock()
    per = requests // clients

    def client() -> None:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for _ in range(per):
            t0 = time.perf_counter()
            c.request("GET", "/api/v1/bots", headers={"Authorization": f"Bearer {token}"})
            resp = c.getresponse()
            resp.read()
            dt = time.perf_counter() - t0
            if resp.status != 200:
                raise SystemExit(f"GET /api/v1/bots answered {resp.status}")
            with lock:
                lat.append(dt * 1000)
                srv.append(_server_ms(resp))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return lat, srv, time.perf_counter() - t0


def _pct(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=100)[int(q) - 1] if len(xs) > 1 else xs[0]


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--bots", type=int, default=20)
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--to", default="2019-01-04", help="last replayed day of each bot")
    args = ap.parse_args()
    from mixbot.paths import sample_data_dir

    data = sample_data_dir()
    if data is None or not (data / "nse_1min" / "BANKNIFTY_F1_2019H1.txt").exists():
        raise SystemExit("no market data (set MIXBOT_DATA): nse_1min/BANKNIFTY_F1_2019H1.txt")
    with tempfile.TemporaryDirectory(prefix="mixbot-webload-") as tmp:
        folder = Path(tmp)
        print(f"setting up {args.bots} replay bots in {folder} ...", flush=True)
        env = _setup(folder, args.bots, args.to, data)
        port = _free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mixbot",
                "serve",
                "--idle",
                "--settings",
                "mixbot.json",
                "--port",
                str(port),
                "bots/",
            ],
            cwd=folder,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_up(port)
            token = _token(port, env["BENCH_PASSWORD"])
            _load(port, token, 20, 1)  # warm-up
            lat, srv, wall = _load(port, token, args.requests, args.clients)
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            cold = []  # each after the 1 s row cache expired: every row read from the stores
            for _ in range(10):
                time.sleep(1.05)
                c.request("GET", "/api/v1/bots", headers={"Authorization": f"Bearer {token}"})
                r = c.getresponse()
                r.read()
                cold.append(_server_ms(r))
            page = []
            for _ in range(20):
                c.request("GET", "/", headers={"Authorization": f"Bearer {token}"})
                r = c.getresponse()
                r.read()
                page.append(_server_ms(r))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
    n = len(lat)
    print(
        f"GET /api/v1/bots, {args.bots} bots, {n} requests over {args.clients} keep-alive connections"
    )
    print(f"  throughput      {n / wall:8.1f} requests/s")
    print(
        f"  client latency  p50 {_pct(lat, 50):7.1f} ms   p99 {_pct(lat, 99):7.1f} ms   max {max(lat):7.1f} ms"
    )
    print(
        f"  server time     p50 {_pct(srv, 50):7.1f} ms   p99 {_pct(srv, 99):7.1f} ms  (Server-Timing; the dashboard's data call)"
    )
    print(
        f"  cold            p50 {_pct(cold, 50):7.1f} ms   max {max(cold):7.1f} ms  "
        "(server time after the 1 s row cache expired, one client)"
    )
    print(
        f"  page render     p50 {_pct(page, 50):7.1f} ms  (GET / the dashboard page, server time)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
