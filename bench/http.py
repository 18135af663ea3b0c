"""HTTP on loopback: the production server in a subprocess, a login, and a small load generator.

The load generator is threads + ``http.client`` keep-alive connections, bounded both by a number
of requests and by time, and talks to 127.0.0.1 only. It runs groups of clients (``Group``), so
the later measurements plug in as they are: the board against a bare WSGI callable serving the
floor's bytes, and the mixed load (50 screens polling + 2 secretaries adding points for 30 s).
"""
from __future__ import annotations

import http.client
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlencode

from .timing import percentile

ROOT = Path(__file__).resolve().parent.parent
Request = tuple[str, str, bytes | None, dict[str, str]]  # method, path, body, headers


class Server:
    """``python -m bench.serve`` in a subprocess; stopped by its own pid only."""

    def __init__(self, scale: str, bare: Path | None = None, threads: int = 4, flask: bool = False):
        cmd = [sys.executable, "-m", "bench.serve", "--scale", scale, "--threads", str(threads)]
        if bare is not None:
            cmd += ["--flask-bare" if flask else "--bare", str(bare)]
        self.log = tempfile.TemporaryFile(mode="w+")  # waitress's log; a pipe nobody reads could fill up
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     env={**os.environ, "PYTHONPATH": str(ROOT)})
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            if not line:  # it exited before listening: let it finish writing its error
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
            self.log.seek(0)
            err = self.log.read()[-2000:]
            self.stop()
            raise RuntimeError(f"server did not start: {line}{err}")
        self.port = int(line.split()[1])

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def gunicorn_available() -> bool:
    import importlib.util
    return sys.platform != "win32" and importlib.util.find_spec("gunicorn") is not None


class GunicornServer(Server):
    """gunicorn (2 sync workers, the README's production line) in a subprocess, same measurements."""

    def __init__(self, scale: str, bare: Path | None = None, workers: int = 2):
        import socket
        with socket.socket() as s:  # a free port; gunicorn is told it, then polled until it listens
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        target = f"bench.serve:bare_from_file('{bare}')" if bare else f"bench.serve:bench_app_for('{scale}')"
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--no-control-socket", "-w", str(workers), "-b",
             f"127.0.0.1:{self.port}", "--log-level", "warning", target],
            cwd=ROOT, stdout=self.log, stderr=self.log, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        deadline = time.perf_counter() + 60
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/healthz")
                conn.getresponse().read()
                conn.close()
                return
            except OSError:
                time.sleep(0.2)
        self.log.seek(0)
        err = self.log.read()[-2000:]
        self.stop()
        raise RuntimeError(f"gunicorn did not start: {err}")

    def rss_mb(self) -> float:
        """The master and its workers together."""
        total = 0.0
        for pid in [self.proc.pid, *_children(self.proc.pid)]:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) / 1024
            except OSError:
                pass
        return total


def _children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _cookie(resp: http.client.HTTPResponse, jar: dict[str, str]) -> None:
    for header, value in resp.getheaders():
        if header.lower() == "set-cookie":
            name, _, rest = value.partition("=")
            jar[name.strip()] = rest.split(";", 1)[0]


def login(port: int, username: str, password: str) -> dict[str, str]:
    """Log in through the login form; returns the headers a logged-in browser would send."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    jar: dict[str, str] = {}
    conn.request("GET", "/login")
    resp = conn.getresponse()
    page = resp.read().decode()
    _cookie(resp, jar)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    body = urlencode({"username": username, "password": password, "csrf_token": token})
    conn.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded",
                                          "Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())})
    resp = conn.getresponse()
    resp.read()
    _cookie(resp, jar)
    conn.close()
    if resp.status != 302:
        raise RuntimeError(f"login as {username} over HTTP failed: {resp.status}")
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())}


@dataclass
class Group:
    """``threads`` clients, each sending ``next_request()`` in a loop, pausing ``think_s`` between. Paced
    clients start at random moments within their first pause (fifty screens switched on at once would poll in
    step, every request of a burst at the same instant); the ``warmup`` first requests of each are not timed
    (the first add of a branch compiles its templates), though their statuses and errors count."""

    name: str
    threads: int
    next_request: Callable[[], Request]
    think_s: float = 0.0
    warmup: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    def summary(self, seconds: float) -> dict:
        ms = sorted(x * 1000 for x in self.latencies)
        return {"requests": len(ms), "errors": self.errors, "statuses": self.statuses,
                "req_per_s": round(len(ms) / seconds, 1) if seconds else None,
                "p50_ms": round(percentile(ms, 0.5), 2) if ms else None,
                "p99_ms": round(percentile(ms, 0.99), 2) if ms else None,
                "max_ms": round(ms[-1], 2) if ms else None}


def run_groups(port: int, groups: list[Group], seconds: float, max_requests: int) -> dict:
    """Run every group at once until ``seconds`` pass or ``max_requests`` are done in all."""
    stop_at = time.perf_counter() + seconds
    lock = threading.Lock()
    done = [0]

    def worker(g: Group, stagger: float) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        skip = g.warmup
        time.sleep(stagger)
        while time.perf_counter() < stop_at:
            with lock:
                if done[0] >= max_requests:
                    break
                done[0] += 1
            method, path, body, headers = g.next_request()
            t0 = time.perf_counter()
            try:
                conn.request(method, path, body, headers)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status = 0
            dt = time.perf_counter() - t0
            with lock:
                if skip:  # a warm-up request: its status counts, its time does not
                    skip -= 1
                else:
                    g.latencies.append(dt)
                g.statuses[status] = g.statuses.get(status, 0) + 1
                if status == 0 or status >= 400:
                    g.errors += 1
            if g.think_s:
                time.sleep(g.think_s)
        conn.close()

    rng = random.Random(16)  # the same start moments in every run
    threads = [threading.Thread(target=worker, args=(g, rng.uniform(0, g.think_s)), daemon=True)
               for g in groups for _ in range(g.threads)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    return {"seconds": round(elapsed, 2), "groups": {g.name: g.summary(elapsed) for g in groups}}


def get_loop(path: str, headers: dict[str, str]) -> Callable[[], Request]:
    def make() -> Request:
        return ("GET", path, None, headers)
    return make
