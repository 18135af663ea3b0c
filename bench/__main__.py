"""``python -m bench --scale street|district [--quick] [--repeat N] [--profile PATH] [--no-http]``

One run: build or reuse the scale's database, time every path that exists against its floor
(in-process), smoke-test the roster over HTTP through waitress, compare with the other scale's
results when present, print the table and the goals, write bench/results-<scale>.json and
bench/results.json, and end with a one-line JSON summary. The run's own writes (logins, inline
adds, meetings) are deleted at the end, so the generated database is reused unchanged.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from qscore.db import db

from . import dbio, report
from .appctx import Client, bench_app
from .floors import Floors, nav_by_role
from .generate import BENCH_PASSWORD, ensure_database
from .http import Group, Server, get_loop, login, run_groups
from .paths import Case, Picks, build_cases, not_measured
from .scales import LAST_DAY, SCALES
from .timing import measure_pair


def log(*args) -> None:
    print(*args, flush=True)


def measure(cases: list[Case], budget_s: float) -> dict[str, dict[str, Any]]:
    out = {}
    for case in cases:
        checked = case.verify() if case.verify else None
        a, f = measure_pair(case.path, case.floor, case.repeat, case.warmup, budget_s)
        ratio = a.median_ms / f.median_ms if f else None
        out[case.name] = {"label": case.label, "page": case.page, "app": a.as_dict(),
                          "floor": f.as_dict() if f else None, "ratio": ratio, "detail": case.detail,
                          **({"verified": checked} if checked is not None else {})}
        log(f"  {case.name:<11} app {a.median_ms:8.1f} ms (p95 {a.p95_ms:7.1f}, cpu {a.cpu_median_ms:7.1f})   "
            f"floor {f.median_ms:7.1f} ms (cpu {f.cpu_median_ms:6.1f})   ratio {ratio:5.2f}x   n={a.n}"
            + ("" if checked is None else f"   verified {checked}"))
    return out


def measure_http(app, scale: str, floors: Floors, picks: Picks, quick: bool) -> dict[str, Any]:
    """The roster over HTTP (waitress, 4 threads; 4 keep-alive clients), and its floor's bytes served bare."""
    branch = picks.median_branch
    url = f"/branches/{branch}/roster"
    seconds, cap = (3.0, 3000) if quick else (10.0, 20000)
    out: dict[str, Any] = {"path": url, "clients": 4, "server_threads": 4, "seconds": seconds}
    with Server(scale) as srv:
        headers = login(srv.port, f"bs-{branch}", BENCH_PASSWORD)
        run_groups(srv.port, [Group("warm-up", 2, get_loop(url, headers))], 1.0, 40)
        res = run_groups(srv.port, [Group("roster", 4, get_loop(url, headers))], seconds, cap)
        out["app"] = {**res["groups"]["roster"], "server_rss_mb": round(srv.rss_mb(), 1)}
    token = Client(app, f"bs-{branch}").session_token()
    body = floors.roster(token, branch).encode()
    with tempfile.NamedTemporaryFile(suffix=".html", delete=False) as fh:
        fh.write(body)
    try:
        with Server(scale, bare=Path(fh.name)) as srv:
            run_groups(srv.port, [Group("warm-up", 2, get_loop(url, {}))], 1.0, 40)
            res = run_groups(srv.port, [Group("bare", 4, get_loop(url, {}))], seconds, cap)
            out["bare_floor_bytes"] = {**res["groups"]["bare"], "bytes": len(body), "server_rss_mb": round(srv.rss_mb(), 1)}
    finally:
        os.unlink(fh.name)
    a, b = out["app"]["req_per_s"], out["bare_floor_bytes"]["req_per_s"]
    out["app_vs_bare_throughput"] = round(a / b, 3) if a and b else None
    return out


def profile(case: Case, runs: int) -> None:
    for _ in range(case.warmup):
        case.path()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(runs):
        case.path()
    prof.disable()
    buf = io.StringIO()
    st = pstats.Stats(prof, stream=buf)
    st.sort_stats("cumulative").print_stats(45)
    st.sort_stats("tottime").print_stats(25)
    log(f"cProfile of {case.name} ({case.label}), {runs} runs")
    log(buf.getvalue())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", choices=sorted(SCALES), default="street")
    ap.add_argument("--quick", action="store_true", help="fewer repeats, shorter HTTP run")
    ap.add_argument("--repeat", type=int, help="timed runs per path (after the warm-up)")
    ap.add_argument("--profile", metavar="PATH", help="cProfile one path (roster, roster_60, inline_add, meeting, "
                                                       "booklet, grading) and exit")
    ap.add_argument("--no-http", action="store_true", help="skip the HTTP part")
    ap.add_argument("--regenerate", action="store_true", help="build the database even if a matching one exists")
    args = ap.parse_args(argv)
    scale = SCALES[args.scale]
    backend = "PostgreSQL" if os.environ.get("DATABASE_URL") else "SQLite"
    load = os.getloadavg()
    log(f"qscore bench · scale {scale.name} · {backend} · today pinned to {LAST_DAY} · "
        f"{'quick' if args.quick else 'full'} · load average {load[0]:.2f} on {os.cpu_count()} CPUs")
    t0 = time.perf_counter()
    app = bench_app(scale.name)
    meta = ensure_database(app, scale, log=log, force=args.regenerate)
    log(f"database {'reused' if meta['reused'] else 'generated'}: {meta['counts']} "
        f"(generation took {meta['generation_seconds']} s, {meta.get('generation_cpu_seconds')} s CPU)")
    result: dict[str, Any] = {"scale": scale.name, "quick": args.quick, "today": LAST_DAY.isoformat(),
                              "load_average_at_start": [round(x, 2) for x in load],
                              "database": {k: meta.get(k) for k in (
                                  "counts", "picks", "generation_seconds", "generation_cpu_seconds",
                                  "generation_breakdown_seconds", "load_average_after", "reused",
                                  "generator_version")}}
    # No app context is held while requests run: a request would reuse it, and with it ``g``
    # (Flask-Login's user, the CSRF token) and the scoped session, across requests and clients.
    with app.app_context():
        engine = db.engine
        order = [t.name for t in reversed(db.metadata.sorted_tables)]
    raw = engine.raw_connection()
    dialect = dbio.dialect_of(raw)
    pg_version = None
    if dialect == "postgresql":
        cur = raw.cursor()
        cur.execute("SHOW server_version")
        pg_version = cur.fetchone()[0]
    before = dbio.max_ids(raw, order)
    floors = Floors(raw, LAST_DAY, secret=app.config["SECRET_KEY"].encode(), nav=nav_by_role(app))
    try:
        cases = build_cases(app, floors, meta, args.repeat, args.quick)
        if args.profile:
            case = next(c for c in cases if c.name == args.profile)
            profile(case, args.repeat or 5)
            return 0
        log("in-process, app vs floor (median):")
        paths = measure(cases, budget_s=20.0 if args.quick else 120.0)
        pending = not_measured(app)
        for name, status in pending.items():
            log(f"  {name:<11} {status}")
        http_result = None
        if not args.no_http:
            log("over HTTP (waitress in a subprocess, loopback):")
            http_result = measure_http(app, scale.name, floors, Picks(floors, meta), args.quick)
            log(f"  roster      {http_result['app']}")
            log(f"  bare floor  {http_result['bare_floor_bytes']}")
            log("  board throughput vs bare WSGI, mixed load (50 screens + 2 secretaries): "
                + ("built, not measured yet" if "board.poll" in app.view_functions else "not built yet"))
    finally:
        removed = dbio.delete_after(raw, before, order)
        raw.close()
    scaling, scaling_note = report.scaling_ratios(scale.name, paths, dialect)
    goals = report.evaluate(scale.name, paths, scaling, pending)
    result.update(machine=report.machine(dialect, pg_version), packages=report.packages(), paths=paths,
                  not_measured=pending, http=http_result, scaling={"ratios": scaling, "note": scaling_note},
                  goals=goals, run_seconds=round(time.perf_counter() - t0, 1), cleanup_removed=removed)
    out = report.write(scale.name, result, dialect)
    log("")
    log(report.table(paths))
    log("")
    if scaling:
        log("scaling, district/street median: " + ", ".join(f"{k} {v:.2f}x" for k, v in scaling.items())
            + f"   ({scaling_note})")
    else:
        log(f"scaling: {scaling_note}")
    log("goals:")
    log(report.goals_text(goals))
    log(f"wrote bench/{out.name} and bench/results.json in {result['run_seconds']} s")
    print(report.summary_line(scale.name, paths, goals), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
