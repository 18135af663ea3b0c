"""The one cut-off between a published quarter and the entries recorded around it.

Publishing a branch's quarter and writing an entry that may belong to it take the same lock: the
branch's row. Whichever commits first is seen by the other, so an entry committed before the
publication is in its snapshot, and one committed after finds the publication and is flagged as
its prior-period adjustment. The database decides the order, not the clocks of the processes.

PostgreSQL: ``SELECT … FOR UPDATE`` on the branch rows, in id order (no deadlock between two
writers). SQLite has one writer at a time and every writing request begins ``BEGIN IMMEDIATE``
(qscore/db.py), so the whole transaction is already serialised and FOR UPDATE is not rendered.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from .db import db
from .models import Branch


def lock_branches(branch_ids: Iterable[int | None]) -> None:
    """Hold the branches' rows until the transaction ends (publications and ledger writes of them wait)."""
    ids = sorted({int(i) for i in branch_ids if i is not None})
    # On SQLite BEGIN IMMEDIATE has serialised the transaction already: the SELECT would lock nothing.
    if ids and db.session.get_bind().dialect.name != "sqlite":
        db.session.execute(select(Branch.id).where(Branch.id.in_(ids)).order_by(Branch.id).with_for_update())
