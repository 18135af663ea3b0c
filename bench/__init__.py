"""qscore's benchmark (issue 8): district-scale data, every hot path against its raw floor.

``python -m bench --scale street|district [--quick] [--repeat N] [--profile PATH]``

- ``scales``   what "street" and "district" mean, and the pinned last day of the data.
- ``generate`` builds (or reuses) a database at a scale with bulk inserts.
- ``dbio``     raw DB-API helpers shared by the generator and the floors (SQLite and PostgreSQL).
- ``appctx``   the app under test: real code paths, bench config, logins through the login form.
- ``timing``   warm-up, repeated runs, median and p95.
- ``paths``    each measured path through the Flask test client.
- ``floors``   each path's floor: raw SQL + scoring's pure functions + html.escape and joins.
- ``http``     the production server (waitress, in a subprocess) and a small load generator.
- ``report``   goals, the table, results*.json and the one-line summary.
"""
