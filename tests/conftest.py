"""Fixtures in the manner of flaskr: app, client, runner, logged-in roles, and small factories.

The suite runs on a throwaway SQLite file, or on PostgreSQL when DATABASE_URL is set.
"""
from __future__ import annotations

import copy
import os
import re
import sqlite3
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from jinja2 import BytecodeCache
from sqlalchemy import update

from qscore import create_app
from qscore.db import db
from qscore.demo_mode import DEMO_TOTP_SECRET
from qscore.models import Branch, Community, Street, User
from qscore.scoring import year_sums

FIXED_TODAY = date(2026, 5, 20)
TEST_PASSWORD = "correct-horse-9"


# The phones the tests hold: the demo administrator's authenticator, whose secret the README publishes.
PHONES = {"street": DEMO_TOTP_SECRET}


def phone_code(app, username: str) -> str:
    """The code the account's phone shows now. The suite logs the demo administrator in far more often than
    once per 30-second step: each login here acts as if a new step had come (forgets the last step used;
    tests/test_second_step.py tests that rule itself)."""
    with app.app_context():
        db.session.execute(update(User).where(User.username == username).values(totp_last_step=None))
        db.session.commit()
    return pyotp.TOTP(PHONES[username]).now()


class PhoneClient(FlaskClient):
    """A test client that answers the code page after logging in as an account whose phone the tests hold, so a
    test logging in as the demo administrator gets the login's usual answer. ``phone = False`` turns it off."""

    phone = True

    def open(self, *args, **kwargs):
        resp = super().open(*args, **kwargs)
        data = kwargs.get("data")
        username = data.get("username") if isinstance(data, dict) else None
        if (self.phone and username in PHONES and resp.status_code == 302
                and resp.headers.get("Location", "").split("?")[0].endswith("/login/code")):
            return super().open("/login/code", method="POST", data={"code": phone_code(self.application, username)})
        return resp


Flask.test_client_class = PhoneClient  # every app of the suite, including those a module creates itself


class _CompiledTemplates(BytecodeCache):
    """Templates compiled once per test process, not once per app: the suite creates dozens of apps, all by
    create_app with the same Jinja settings, and compiling every template anew for each cost some 12 s of CPU."""

    def __init__(self):
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket) -> None:
        if bucket.key in self.code:
            bucket.bytecode_from_string(self.code[bucket.key])

    def dump_bytecode(self, bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


Flask.jinja_options = {**Flask.jinja_options, "bytecode_cache": _CompiledTemplates()}


# pytest-xdist runs the suite in several processes ("gw0", "gw1", …): each needs a database of its own.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")

# `make test` hands out whole files in this order (--dist loadfile --no-loadscope-reorder): the longest first, so
# that no process is left alone with a long file at the end while the other has finished. Browser files take
# long waiting on Chromium, not on Python. Files not named here follow in their usual order.
LONGEST_FIRST = [
    "test_hostile_input.py", "test_zh_crawl.py", "e2e/test_admin.py", "test_demo.py", "e2e/test_board.py",
    "e2e/test_stats.py", "test_access_matrix.py", "e2e/test_review.py", "e2e/test_entry.py", "test_cases.py",
    "test_review.py", "test_scoring_oracle.py", "e2e/test_quarter.py", "e2e/test_password_field.py", "test_entry.py",
    "test_admin_scheme.py", "test_publication.py", "test_hostile_workbooks.py", "test_throttle.py",
    "e2e/test_booklet.py", "e2e/test_foundation.py", "test_figures.py", "test_exports.py", "test_security.py",
]


def pytest_collection_modifyitems(config, items) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    here = Path(__file__).parent

    def file_rank(item) -> int:
        return rank.get(Path(item.path).relative_to(here).as_posix(), len(rank))

    items.sort(key=file_rank)  # stable: the tests of a file keep their order


@contextmanager
def scratch_database(url: str, suffix: str):
    """A PostgreSQL database named after ``url``'s with ``suffix`` (and the worker's name), created empty for the
    caller and dropped afterwards; ``url``'s own database is only the door to create it."""
    name = "_".join(filter(None, [make_url(url).database, suffix, WORKER]))
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def _tmp_root():
    with tempfile.TemporaryDirectory(prefix="qscore-test-") as d:
        yield Path(d)


@pytest.fixture(scope="session")
def _database_url(_tmp_root):
    """SQLite in the session's temporary folder (one per worker), or PostgreSQL when DATABASE_URL is given:
    the database itself alone, each xdist worker a database of its own beside it."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        yield f"sqlite:///{_tmp_root / 'test.sqlite3'}"
    elif not WORKER:
        yield url
    else:
        with scratch_database(url, "") as worker_url:
            yield worker_url


@pytest.fixture(scope="session")
def test_config(_tmp_root, _database_url) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": _database_url,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",  # cheap in tests; test_security checks the real default
        "WTF_CSRF_ENABLED": False,
        "FIXED_TODAY": FIXED_TODAY,
        "SETUP_TOKEN_FILE": str(_tmp_root / "setup-token"),  # not the real instance/ of this checkout
        # The test street's administrators are not made to set up a phone (tests/test_second_step.py is).
        "SECOND_STEP_REQUIRED_ROLES": (),
    }


@pytest.fixture(scope="session")
def _schema(test_config):
    app = create_app(test_config)
    with app.app_context():
        db.drop_all()
        db.create_all()
        db.session.remove()
    SNAPSHOTS.save(app, EMPTY, ())
    yield
    SNAPSHOTS.clear()
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def truncate_all() -> None:
    """Empty every table between tests (much faster than recreating the schema on PostgreSQL)."""
    db.session.remove()
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            conn.execute(text("PRAGMA foreign_keys=OFF"))
            for t in tables:
                conn.execute(text(f'DELETE FROM "{t}"'))
            conn.execute(text("PRAGMA foreign_keys=ON"))


class Snapshots:
    """Databases that fixtures built, kept whole in memory and copied back for each later test that needs the same
    one: SQLite's backup API copies the demo street in milliseconds where building it takes seconds. On
    PostgreSQL nothing is kept and every test builds its own, as the fixture says.

    A snapshot is put back only onto the database it was built on: ``lineage`` names the snapshots the database
    holds since it was last emptied, and any other write (a test, a fixture that is not kept) clears it.
    """

    def __init__(self):
        self._saved: dict[tuple, tuple[sqlite3.Connection, object]] = {}  # (lineage, key) -> database, value
        self.lineage: tuple | None = None

    @staticmethod
    def _driver(app):
        """A pooled SQLite connection of the app's engine (None on PostgreSQL), its session closed first."""
        with app.app_context():
            db.session.remove()
            if db.engine.dialect.name != "sqlite":
                return None
            return db.engine.raw_connection()

    def save(self, app, key, parent: tuple, value=None) -> None:
        conn = self._driver(app)
        if conn is None:
            return
        kept = sqlite3.connect(":memory:", check_same_thread=False)
        try:
            conn.driver_connection.backup(kept)
        finally:
            conn.close()
        self._saved[(parent, key)] = (kept, value)
        self.lineage = (*parent, key)

    def restore(self, app, key, parent: tuple = ()) -> bool:
        """Put the database saved after ``key`` was built on ``parent`` back in the app's place, forgetting what the
        app remembered of the last one."""
        kept, _value = self._saved.get((parent, key), (None, None))
        conn = self._driver(app) if kept is not None else None
        if conn is None:
            return False
        forget_app_state(app)
        try:
            kept.backup(conn.driver_connection)
        finally:
            conn.close()
        self.lineage = (*parent, key)
        return True

    def build(self, app, key, build: Callable[[], object]):
        """What ``build()`` returns and leaves in the database, built by the first test that asks for ``key`` and
        copied back for the later ones whose database holds the same snapshots and nothing else (each gets a copy
        of the returned object to change as it likes). ``build`` must write the same rows every time it runs;
        ``key`` names it."""
        parent = self.lineage
        if parent is not None and self.restore(app, key, parent):
            return copy.copy(self._saved[(parent, key)][1])
        value = build()
        if parent is not None:
            self.save(app, key, parent, value)
        return copy.copy(value)

    def written(self, conn, cursor, statement, *_args) -> None:
        if _WRITES.match(statement):
            self.lineage = None

    def clear(self) -> None:
        for kept, _value in self._saved.values():
            kept.close()
        self._saved.clear()
        self.lineage = None


_WRITES = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b", re.I)
SNAPSHOTS = Snapshots()  # one per test process: every xdist worker has its own database
event.listen(Engine, "before_cursor_execute", SNAPSHOTS.written)
EMPTY = "empty schema"


def dispose(app) -> None:
    """Close the app's pooled connections (an open psycopg connection left to the GC warns)."""
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def make_app(test_config, _schema):
    """Create extra apps (a second server process, other settings); their connections close after the test."""
    made = []

    def factory(**overrides):
        app = create_app({**test_config, **overrides})
        made.append(app)
        return app

    yield factory
    for app in made:
        dispose(app)


# What a test may leave behind in the shared app's extensions (caches keyed by ids that restart after a
# truncation, the "setup done" flag): forgotten before each test.
_APP_STATE = ("qscore_board_cache", "qscore_setup_done")


def forget_app_state(app) -> None:
    for key in _APP_STATE:
        app.extensions.pop(key, None)
    Path(app.config["SETUP_TOKEN_FILE"]).unlink(missing_ok=True)


def reset_app(app) -> None:
    """Empty the database and forget what the app remembered of it, as if it had just been created."""
    if not SNAPSHOTS.restore(app, EMPTY):
        with app.app_context():
            truncate_all()
        forget_app_state(app)


@pytest.fixture(scope="session")
def _session_app(test_config, _schema):
    """One app for the whole session (building one costs ~0.1 s, a third of it URL rules)."""
    app = create_app(test_config)
    yield app
    dispose(app)


@pytest.fixture
def app(_session_app):
    """The session's app with an empty database; settings a test changes in place are put back after it."""
    app = _session_app
    saved = dict(app.config)
    reset_app(app)
    yield app
    app.config.clear()
    app.config.update(saved)
    with app.app_context():
        db.session.remove()
        # Whatever the test wrote, the sums scoring reads still agree with the ledger (scoring/year_sums.py).
        wrong = year_sums.check(db.session)
        db.session.remove()
    assert not wrong, f"the stored year sums differ from the ledger after this test: {wrong[:5]}"


def load_demo_street(app, today: date = FIXED_TODAY) -> None:
    """Empty the app's database and put the demo street of ``today`` in it, as ``load_demo(today)`` builds it
    (on SQLite built once per test process and copied after: building it takes seconds)."""
    from qscore.demo import load_demo

    def build() -> None:
        with app.app_context(), app.test_request_context():
            load_demo(today)
            db.session.commit()

    reset_app(app)
    SNAPSHOTS.build(app, ("demo street", today), build)


def read_setup_token(app) -> str:
    """The first-run code as the person who starts the server finds it: `flask qscore init` writes it
    (qscore.setup.issue_token) and prints it; here it is read from the file."""
    from qscore.setup import issue_token

    with app.app_context():
        issue_token()
    return Path(app.config["SETUP_TOKEN_FILE"]).read_text(encoding="utf-8").strip()


@pytest.fixture
def setup_token(app) -> str:
    return read_setup_token(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def ctx(app):
    """An application context for tests that talk to the database directly."""
    with app.app_context(), app.test_request_context():
        yield app


class Org:
    """A street with two communities and three branches: the shape most tests need."""

    def __init__(self):
        self.street = Street(name="幸福街道")
        db.session.add(self.street)
        db.session.flush()
        self.community = Community(street_id=self.street.id, name="前进社区")
        self.other_community = Community(street_id=self.street.id, name="和平社区")
        db.session.add_all([self.community, self.other_community])
        db.session.flush()
        self.branch = Branch(community_id=self.community.id, name="第一党支部")
        self.sibling_branch = Branch(community_id=self.community.id, name="再就业党支部", kind="reemployment")
        self.other_branch = Branch(community_id=self.other_community.id, name="和平第一支部")
        db.session.add_all([self.branch, self.sibling_branch, self.other_branch])
        db.session.flush()

    def user(self, username: str, role: str, *, branch: Branch | None = None, community: Community | None = None,
             member_id: int | None = None, password: str = TEST_PASSWORD) -> User:
        from qscore.security import hash_password

        if role == "branch_secretary" or role == "member":
            branch = branch or self.branch
            community = community or db.session.get(Community, branch.community_id)
        if role == "community_secretary":
            community = community or self.community
        u = User(username=username, display_name=username, password_hash=hash_password(password), role=role,
                 street_id=self.street.id, community_id=community.id if community else None,
                 branch_id=branch.id if branch else None, member_id=member_id)
        db.session.add(u)
        db.session.flush()
        return u


@pytest.fixture
def org(app):
    return SNAPSHOTS.build(app, "org", lambda: _build_org(app))


def _build_org(app) -> Org:
    with app.app_context(), app.test_request_context():
        o = Org()
        o.admin = o.user("admin", "street_admin")
        o.community_secretary = o.user("cs", "community_secretary")
        o.branch_secretary = o.user("bs", "branch_secretary")
        o.other_secretary = o.user("bs2", "branch_secretary", branch=o.other_branch)
        db.session.commit()
        ids = {k: getattr(o, k).id for k in ("street", "community", "other_community", "branch",
                                            "sibling_branch", "other_branch", "admin", "community_secretary",
                                            "branch_secretary", "other_secretary")}
        for k, v in ids.items():
            setattr(o, f"{k}_id", v)
    return o


class Auth:
    def __init__(self, client):
        self.client = client

    def login(self, username: str = "admin", password: str = TEST_PASSWORD):
        return self.client.post("/login", data={"username": username, "password": password})

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client):
    return Auth(client)


def make_member(branch_id: int, name: str, type_code: str = "A", *, on_roll_since: date = date(2020, 1, 1),
                street_id: int | None = None, **fields):
    """A member with a type record and a branch spell (call inside an app context; flushes)."""
    from qscore.models import BranchSpell, Member, MemberType

    if street_id is None:
        community = db.session.get(Community, db.session.get(Branch, branch_id).community_id)
        street_id = community.street_id
    m = Member(street_id=street_id, branch_id=branch_id, name=name, on_roll_since=on_roll_since, **fields)
    db.session.add(m)
    db.session.flush()
    db.session.add(MemberType(member_id=m.id, type_code=type_code, effective_from=on_roll_since, reason="test"))
    db.session.add(BranchSpell(member_id=m.id, branch_id=branch_id, starts_on=on_roll_since))
    db.session.flush()
    return m
