"""The meeting form's member lines (status-<id>, leave-<id>, proof-<id>), read by one field in one pass:
what a secretary typed comes back as typed when something must be corrected, and each line is judged alone."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from qscore.db import db
from qscore.models import Leave, Meeting

from .test_entry import entries, meeting, roster  # noqa: F401  (roster is a fixture)


def checked_status(page: str, member_id: int) -> str | None:
    """The attendance the page has ticked for a member."""
    found = re.search(rf'name="status-{member_id}" value="(\w+)" checked', page)
    return found.group(1) if found else None


def box(page: str, member_id: int) -> tuple[str, str] | None:
    """The name and value of a member's one box (leave reason or proof)."""
    found = re.search(rf'name="((?:leave|proof)-{member_id})"[^>]*value="([^"]*)"', page)
    return found.groups() if found else None


def test_a_refused_meeting_shows_every_line_as_it_was_sent(app, client, auth, org, roster):
    auth.login("bs")
    resp = meeting(client, org, {roster["a"]: "attended", roster["c"]: "home", roster["d"]: "excused"},
                   **{f"proof-{roster['c']}": "  居住地社区\t证明 ", f"leave-{roster['d']}": ""})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert [checked_status(page, roster[k]) for k in "acd"] == ["attended", "home", "excused"]
    assert box(page, roster["c"]) == (f"proof-{roster['c']}", "居住地社区 证明")  # one line, as Text keeps it
    assert box(page, roster["d"]) == (f"leave-{roster['d']}", "")
    line_d = page.split(f'name="status-{roster["d"]}"', 1)[1].split("</tr>")[0]
    assert "该日没有登记请假：请填写原因以登记请假。" in line_d  # said on d's own line
    assert entries(app) == []


def test_each_wrong_line_is_named_and_nothing_is_written(app, client, auth, org, roster):
    auth.login("bs")
    resp = meeting(client, org, {roster["a"]: "attended\x00", roster["c"]: "attended", roster["d"]: "excused"},
                   **{f"leave-{roster['d']}": "住院\u202e"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "不是有效的选择" in page and "含有看不见的控制字符" in page
    assert "下方有 2 名党员的信息需要修改" in page
    assert entries(app) == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Meeting)) == 0
        assert db.session.scalar(select(func.count()).select_from(Leave)) == 0


def test_a_line_sent_twice_counts_the_first_time(app, client, auth, org, roster):
    """As every field reads a name given twice: the first value (a second one never slips past the checks)."""
    auth.login("bs")
    others = {roster["c"]: "attended", roster["d"]: "attended"}
    resp = meeting(client, org, {roster["a"]: ["nonsense", "attended"], **others}, idempotency_key="m-twice-01")
    assert resp.status_code == 422 and "不是有效的选择" in resp.get_data(as_text=True) and entries(app) == []
    resp = meeting(client, org, {roster["a"]: ["attended", "nonsense"], **others}, idempotency_key="m-twice-02")
    assert resp.status_code == 302
    assert sorted(e.member_id for e in entries(app)) == sorted([roster["a"], roster["c"], roster["d"]])


def test_a_long_leave_reason_is_refused_on_its_line(app, client, auth, org, roster):
    client.set_cookie("qscore_lang", "en")
    auth.login("bs")
    resp = meeting(client, org, {roster["a"]: "attended", roster["c"]: "attended", roster["d"]: "excused"},
                   **{f"leave-{roster['d']}": "长" * 501})
    assert resp.status_code == 422 and "At most 500 characters." in resp.get_data(as_text=True)
    resp = meeting(client, org, {roster["a"]: "attended", roster["c"]: "excused", roster["d"]: "attended"},
                   **{f"proof-{roster['c']}": "长" * 201})
    assert resp.status_code == 422 and "At most 200 characters." in resp.get_data(as_text=True)
    assert entries(app) == []
