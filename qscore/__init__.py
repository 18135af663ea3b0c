"""qscore: classified, quantified points management of community party members (社区党员分类量化管理)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
__version__ = "0.1.0"


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Configure and register; no side effects (first-run chores are CLI commands)."""
    instance = Path(os.environ.get("QSCORE_INSTANCE", ROOT / "instance"))
    app = Flask(
        __name__,
        instance_path=str(instance.resolve()),
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_object("qscore.config")
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get("DATABASE_URL") or (
        "sqlite:///" + str(Path(app.instance_path) / "qscore.sqlite3"))
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env("QSCORE")
    else:
        app.config.from_mapping(test_config)

    from . import db as dbmod, i18n, security, sessions, errors, cli, templating
    from .converters import BoundedInt

    app.url_map.converters["int"] = BoundedInt  # before any blueprint registers its rules

    dbmod.db.init_app(app)
    dbmod.migrate.init_app(app, dbmod.db, directory=str(Path(__file__).parent / "migrations"))
    i18n.init_app(app)
    security.init_app(app)
    sessions.init_app(app)
    errors.init_app(app)
    templating.init_app(app)
    cli.init_app(app)

    from . import admin, assessment, auth, board, booklet, entry, health, home, publish, queries, review, service, setup
    from . import checkin_pages, dues_pages
    from . import account, passwords, stats
    from .second_step import views as second_step

    app.register_blueprint(health.bp)
    app.register_blueprint(setup.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(passwords.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(second_step.bp)
    app.register_blueprint(home.bp)
    app.register_blueprint(booklet.bp)
    app.register_blueprint(entry.bp)
    app.register_blueprint(publish.bp)
    app.register_blueprint(board.bp)
    app.register_blueprint(queries.bp)
    app.register_blueprint(review.bp)
    app.register_blueprint(stats.bp)
    app.register_blueprint(service.bp)
    app.register_blueprint(dues_pages.bp)
    app.register_blueprint(checkin_pages.bp)
    app.register_blueprint(assessment.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(i18n.bp)
    return app
