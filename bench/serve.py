"""The production server for the HTTP measurements, in its own process (its own GIL, its own
memory figure): ``python -m bench.serve --scale street [--bare FILE | --flask-bare FILE] [--threads 4]``.

Serves the app with the benchmark's settings through waitress on 127.0.0.1 and a free port, or,
with --bare, a bare WSGI callable returning FILE's bytes (a floor served by the same server), or with
--flask-bare, a one-route Flask app returning them.
Prints ``PORT <n>`` once listening.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import waitress


def bare_app(body: bytes):
    headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))]

    def app(environ, start_response):
        start_response("200 OK", headers)
        return [body]

    return app


def flask_bare_app(body: bytes):
    """The least a Flask app can do for the page: one route returning the same bytes (no database, no
    session, no hooks). The stack is fixed (Flask on waitress), so this is the HTTP ceiling of any page."""
    from flask import Flask, Response

    app = Flask("bench_flask_bare")

    @app.route("/", defaults={"path": ""})
    @app.route("/<path:path>")
    def page(path: str):
        return Response(body, content_type="text/html; charset=utf-8")

    return app


def bare_from_file(path: str):
    """For gunicorn: ``bench.serve:bare_from_file('/tmp/floor.html')``."""
    return bare_app(Path(path).read_bytes())


def bench_app_for(scale: str):
    """For gunicorn: ``bench.serve:bench_app_for('street')``."""
    from .appctx import bench_app
    return bench_app(scale)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.serve")
    ap.add_argument("--scale", required=True)
    ap.add_argument("--bare", type=Path)
    ap.add_argument("--flask-bare", type=Path)
    ap.add_argument("--threads", type=int, default=4)
    args = ap.parse_args(argv)
    if args.bare:
        app = bare_app(args.bare.read_bytes())
    elif args.flask_bare:
        app = flask_bare_app(args.flask_bare.read_bytes())
    else:
        from qscore.serving import settle

        from .appctx import bench_app
        app = settle(bench_app(args.scale))  # as app.py does for waitress
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=args.threads, ident="qscore")
    print(f"PORT {server.effective_port}", flush=True)
    sys.stdout.flush()
    server.run()


if __name__ == "__main__":
    main()
