"""The public noticeboard: only published figures, privacy, sections per type, cheap polls, build refresh, QR."""
from __future__ import annotations

import html
import re
from datetime import date, datetime, timedelta
from types import SimpleNamespace

import pytest
import segno
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select

from qscore import board
from qscore.db import db
from qscore.ledger import correct_entry, record_entry
from qscore.models import Branch, Publication, ResidentQuery, User
from qscore import board_version as board_version_module
from qscore.public_snapshot import CACHE_MAX
from qscore.board_version import bump as bump_board_version
from qscore.publication import retract, store_publication
from qscore.scheme_versions import scheme_for_year
from qscore.street_settings import set_setting

from .conftest import FIXED_TODAY, make_member

HX = {"HX-Request": "true"}
PHONE_RE = re.compile(r"1[3-9]\d{9}")
ID_RE = re.compile(r"\d{17}[\dXx]")
ID_NUMBER = "110101199003071234"
ADDRESS = "幸福路18号3单元502室"


def publish_quarter(branch_id: int, year: int = 2026, quarter: int = 1, *, user_id: int | None = None,
                    published_at: datetime | None = None, supervision_ends_on: date = date(2026, 4, 20)) -> int:
    """A publication row as the lead's publish() stores it (snapshot, hash, adjustments), without the meeting checks."""
    branch = db.session.get(Branch, branch_id)
    pub = store_publication(branch, year, quarter, published_by_id=user_id, meeting_on=date(2026, 4, 10),
                            members_present=3, members_total=4, chair="张书记",
                            supervision_ends_on=supervision_ends_on, published_at=published_at)
    from qscore.models import Community
    bump_board_version(db.session.get(Community, branch.community_id).street_id)
    return pub.id


@pytest.fixture
def pub(app, org):
    """第一党支部 with five members of three types, entries in 2026-Q1 (one deduction), Q1 published."""
    with app.app_context(), app.test_request_context():
        bs = db.session.get(User, org.branch_secretary_id)
        zhang = make_member(org.branch_id, "张三", "A", phone="13812345678", address=ADDRESS, booklet_no="QJ-0003")
        wang1 = make_member(org.branch_id, "王秀英", "B", phone="15900001111", address=ADDRESS, booklet_no="QJ-0107")
        wang2 = make_member(org.branch_id, "王桂英", "B", phone="18600002222", booklet_no="QJ-0212")
        ouyang = make_member(org.branch_id, "欧阳明华", "C", phone="13700003333", booklet_no="QJ-0044")
        li = make_member(org.branch_id, "李四", "D", phone="13600004444", booklet_no="QJ-0005")
        far = make_member(org.other_branch_id, "赵六", "A", phone="13500005555")
        for m, code, value, day, note in [
            (zhang, "J1", None, date(2026, 1, 16), ""), (zhang, "Z3", "4", date(2026, 2, 10), "清扫楼道"),
            (wang1, "J1", None, date(2026, 1, 16), ""), (wang1, "Z2", None, date(2026, 2, 25), "走访联系户"),
            (wang2, "K3", None, date(2026, 3, 5), f"未完成交办任务，核对身份证{ID_NUMBER}"),
            (ouyang, "J1", None, date(2026, 3, 12), ""), (li, "J3", None, date(2026, 1, 20), ""),
            (far, "J1", None, date(2026, 1, 16), ""),
        ]:
            record_entry(member=m, indicator_code=code, value=value, earned_on=day, note=note, user=bs,
                         today=FIXED_TODAY)
        pub_id = publish_quarter(org.branch_id, user_id=bs.id)
        db.session.commit()
        return SimpleNamespace(id=pub_id, zhang=zhang.id, wang1=wang1.id, wang2=wang2.id, ouyang=ouyang.id,
                               li=li.id, far=far.id)


def page(client, url="/board", **kw) -> str:
    resp = client.get(url, **kw)
    assert resp.status_code == 200, resp.status_code
    return resp.get_data(as_text=True)


def poll_url(body: str) -> str:
    m = re.search(r'id="board-live"[^>]*hx-get="([^"]+)"', body, re.S)
    assert m, "the board polls"
    return html.unescape(m.group(1))


def sections(body: str) -> dict[str, str]:
    """The HTML of each type section on the board, by type code."""
    out: dict[str, str] = {}
    for m in re.finditer(r'<section class="board-section board-type-([a-d])">(.*?)</section>', body, re.S):
        out[m.group(1).upper()] = out.get(m.group(1).upper(), "") + m.group(2)
    return out


# ---------------------------------------------------------------------------------------------
# What the board shows
# ---------------------------------------------------------------------------------------------

def test_board_is_public_and_shows_the_publication_in_sections_per_type(client, pub):
    client.set_cookie("qscore_lang", "en")
    resp = client.get("/board")
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-cache"
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    body = resp.get_data(as_text=True)
    assert "第一党支部" in body and "前进社区" in body
    assert "Party members' points, First quarter 2026" in body
    by_type = sections(body)
    assert set(by_type) == {"A", "B", "C", "D"}
    assert "张*" in by_type["A"] and "张*" not in by_type["B"]
    assert "王*英(07)" in by_type["B"] and "王*英(12)" in by_type["B"]
    assert "欧*华" in by_type["C"] and "李*" in by_type["D"]
    # type shown only as Type 1…4, never with the type's description
    assert "Type 1" in body and "Type 4" in body
    # no main navigation or login chrome on the TV
    assert "mainnav" not in body and "/login" not in body
    # the deduction shows as points, its reason not at all
    assert "−3" in by_type["B"] and "未完成交办任务" not in body


def test_board_in_chinese_by_default_and_full_names_when_masking_is_off(app, client, org, pub):
    body = page(client)
    assert 'lang="zh-CN"' in body and "第一类" in body
    assert "张三" not in body and "王秀英" not in body
    with app.app_context():
        set_setting(org.street_id, "mask_names", False)
        bump_board_version(org.street_id)
        db.session.commit()
    body = page(client)
    for name in ("张三", "王秀英", "王桂英", "欧阳明华", "李四"):
        assert name in body


def test_rows_within_a_type_are_in_pinyin_order_of_the_full_name(client, pub):
    by_type = sections(page(client))
    b = by_type["B"]
    # 王桂英 (wang gui ying) before 王秀英 (wang xiu ying), whatever their scores: one order everywhere
    assert b.index("王*英(12)") < b.index("王*英(07)")


def test_privacy_nothing_private_reaches_the_board_or_its_poll(app, client, org, pub):
    """Fails if a phone-like or ID-like string, an address, a note or a type description reaches the board."""
    forbidden = [ADDRESS, "幸福路", "清扫楼道", "走访联系户", "身份证"]
    with app.app_context():
        for t in scheme_for_year(2026).types.values():
            forbidden += [t.zh, t.en]
    assert "离退休党员" in forbidden and "老弱病残行动不便党员" in forbidden
    bodies = []
    for lang in ("zh_CN", "en"):
        client.set_cookie("qscore_lang", lang)
        body = page(client)
        bodies.append(body)
        url = poll_url(body)
        # a poll that finds something new answers the same content as a fragment
        stale = re.sub(r"v=[^&]+", "v=stale", url)
        resp = client.get(stale, headers=HX)
        assert resp.status_code == 200
        bodies.append(resp.get_data(as_text=True))
        for path in (f"/board/{org.community_id}", f"/board/{org.community_id}/{org.branch_id}"):
            bodies.append(page(client, path))
    for body in bodies:
        text = html.unescape(body)
        assert not PHONE_RE.search(text), PHONE_RE.search(text)
        assert not ID_RE.search(text), ID_RE.search(text)
        for word in forbidden:
            assert word not in text, word


def test_board_shows_only_published_figures(app, client, org, pub):
    before = page(client)
    with app.app_context(), app.test_request_context():
        from qscore.models import Member
        bs = db.session.get(User, org.branch_secretary_id)
        zhang = db.session.get(Member, pub.zhang)
        # a late entry into the published quarter (an adjustment) and one in the current quarter
        record_entry(member=zhang, indicator_code="Z4", value=None, earned_on=date(2026, 3, 20),
                     note="补记：防汛值守", user=bs, today=FIXED_TODAY)
        record_entry(member=zhang, indicator_code="Z3", value="6", earned_on=date(2026, 5, 2), note="义务巡逻",
                     user=bs, today=FIXED_TODAY)
        db.session.commit()
    after = page(client)
    assert after == before


def test_adjustments_listed_in_the_next_publication(app, client, org, pub):
    with app.app_context(), app.test_request_context():
        from qscore.models import Member, PointEntry
        bs = db.session.get(User, org.branch_secretary_id)
        zhang = db.session.get(Member, pub.zhang)
        wang2 = db.session.get(Member, pub.wang2)
        record_entry(member=zhang, indicator_code="Z4", value=None, earned_on=date(2026, 3, 20),
                     note="补记：防汛值守", user=bs, today=FIXED_TODAY)
        k3 = db.session.scalar(select(PointEntry).where(PointEntry.member_id == wang2.id))
        correct_entry(entry=k3, reason="群众质询核实：已完成", user=bs, today=FIXED_TODAY)
        db.session.commit()
    with app.app_context():
        set_setting(org.street_id, "board_rotation_seconds", 15)
        publish_quarter(org.branch_id, 2026, 2, published_at=datetime(2026, 7, 3, 2, 0),
                        supervision_ends_on=date(2026, 7, 8))
        db.session.commit()
    client.set_cookie("qscore_lang", "en")
    body = page(client)
    assert "Second quarter 2026" in body and "First quarter 2026" not in body.split("board-adjust")[0]
    adjust = body[body.index('class="board-page board-adjust'):]
    assert '<h3 class="board-section-title"><span>First quarter 2026</span>' in adjust
    assert re.search(r"张\*</span><span class=\"board-adjust-points board-pos\">\+3<", adjust)
    assert re.search(r"王\*英\(12\)</span><span class=\"board-adjust-points board-pos\">\+3<", adjust)
    assert "防汛值守" not in body and "群众质询核实" not in body
    assert 'data-rotate-seconds="15"' in body


def test_retracted_publications_leave_the_board(app, client, org, pub):
    with app.app_context(), app.test_request_context():
        publish_quarter(org.branch_id, 2026, 2, published_at=datetime(2026, 7, 3, 2, 0))
        db.session.commit()
    client.set_cookie("qscore_lang", "en")
    assert "Second quarter 2026" in page(client)
    with app.app_context(), app.test_request_context():
        admin = db.session.get(User, org.admin_id)
        q2 = db.session.scalar(select(Publication).where(Publication.quarter == 2))
        retract(publication=q2, reason="会议记录有误", user=admin)
        db.session.commit()
    body = page(client)
    assert "Second quarter 2026" not in body and "First quarter 2026" in body
    with app.app_context(), app.test_request_context():
        admin = db.session.get(User, org.admin_id)
        q1 = db.session.get(Publication, pub.id)
        retract(publication=q1, reason="重新核对", user=admin)
        db.session.commit()
    body = page(client)
    assert "第一党支部" not in body and "No quarter has been published yet" in body


def test_board_scopes_by_community_and_branch(app, client, org, pub):
    with app.app_context():
        publish_quarter(org.other_branch_id)
        db.session.commit()
    street = page(client)
    assert "第一党支部" in street and "和平第一支部" in street
    assert street.index("第一党支部") < street.index("和平第一支部")
    community = page(client, f"/board/{org.community_id}")
    assert "第一党支部" in community and "和平第一支部" not in community
    other = page(client, f"/board/{org.other_community_id}/{org.other_branch_id}")
    assert "和平第一支部" in other and "第一党支部" not in other
    assert client.get(f"/board/{org.community_id}/{org.other_branch_id}").status_code == 404
    assert client.get("/board/9999").status_code == 404
    assert client.get(f"/board?street={org.street_id}").status_code == 200
    assert client.get("/board?street=9999").status_code == 404


def test_board_pages_through_a_long_branch(app, client, org):
    with app.app_context(), app.test_request_context():
        for i in range(40):
            make_member(org.branch_id, f"成员{i:02d}号", "AB"[i % 2], booklet_no=f"QJ-{i:04d}")
        publish_quarter(org.branch_id)
        db.session.commit()
    body = page(client)
    pages = re.findall(r'class="board-page[^"]*" data-page="p\d+-(\d+)"', body)
    assert len(pages) >= 2
    for n in pages:
        chunk = body.split(f'-{n}"', 1)[1].split('data-page="', 1)[0]
        assert chunk.count('class="board-name"') <= board.MEMBER_COLUMNS * (board.COLUMN_UNITS - board.HEADING_UNITS)
    assert body.count('class="board-name"') == 40


def test_paginate_balances_columns_and_keeps_small_sections_whole():
    rows = lambda n: list(range(n))  # noqa: E731
    one = board.paginate([("A", rows(3))], 2)
    assert len(one) == 1 and len(one[0]) == 1 and one[0][0][0].rows == (0, 1, 2)
    two = board.paginate([("A", rows(5)), ("B", rows(3))], 2)
    assert [[s.key for s in col] for col in two[0]] == [["A"], ["B"]]
    even = board.paginate([("A", rows(12))], 2)
    assert [len(col[0].rows) for col in even[0]] == [6, 6] and even[0][1][0].continued
    many = board.paginate([("A", rows(30)), ("B", rows(9))], 2)
    assert sum(len(s.rows) for page_ in many for col in page_ for s in col) == 39
    assert all(2 * len(col) + sum(len(s.rows) for s in col) <= board.COLUMN_UNITS for p in many for col in p)


def _rows_per_page(pages) -> list[int]:
    return [sum(len(s.rows) for col in p for s in col) for p in pages]


def _units(column) -> int:
    return sum(board.HEADING_UNITS + len(s.rows) for s in column)


def test_paginate_spreads_a_long_branch_evenly_over_its_pages():
    rows = lambda n: list(range(n))  # noqa: E731
    # 34 members used to show as 18 / 12 / 4
    pages = board.paginate([("A", rows(14)), ("B", rows(10)), ("C", rows(6)), ("D", rows(4))], 2)
    sizes = _rows_per_page(pages)
    assert len(pages) == 3 and sum(sizes) == 34 and max(sizes) - min(sizes) <= 1, sizes
    # the e2e street's 26 members: 13 and 13, not 20 and 6
    street_branch = [("A", rows(6)), ("B", rows(10)), ("C", rows(4)), ("D", rows(6))]
    assert _rows_per_page(board.paginate(street_branch, 2)) == [13, 13]
    # a type cut by a page goes on under its heading, marked as continued, in order
    segments = [s for p in pages for col in p for s in col]
    assert [s.key for s in segments] == sorted(s.key for s in segments)
    for key in "ABCD":
        parts = [s for s in segments if s.key == key]
        assert [r for s in parts for r in s.rows] == list(range(parts[0].total))
        assert not parts[0].continued and all(s.continued for s in parts[1:])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=4), st.sampled_from([(2, 12), (3, 9)]))
def test_paginate_keeps_every_row_in_order_in_the_fewest_pages_that_fit(lengths, layout):
    columns, capacity = layout
    sections = [("ABCD"[i], [(i, j) for j in range(n)]) for i, n in enumerate(lengths)]
    pages = board.paginate(sections, columns, capacity)
    assert [r for p in pages for col in p for s in col for r in s.rows] == [r for _k, rs in sections for r in rs]
    assert all(len(p) <= columns and all(_units(col) <= capacity for col in p) for p in pages)
    # The fewest pages: as many as filling every column to the top would take.
    greedy = board.pages._fill([board.pages.Segment(k, tuple(rs), False, len(rs)) for k, rs in sections], capacity)
    filled = _rows_per_page([greedy[i:i + columns] for i in range(0, len(greedy), columns)])
    assert len(pages) == len(filled)
    # Spread evenly over them: never less even than filling them in turn, and one type alone within one row.
    sizes = _rows_per_page(pages)
    assert max(sizes) - min(sizes) <= max(filled) - min(filled), (sizes, filled)
    if len(lengths) == 1:
        assert max(sizes) - min(sizes) <= 1, sizes


# ---------------------------------------------------------------------------------------------
# Polling
# ---------------------------------------------------------------------------------------------

class Statements:
    def __init__(self, app):
        self.app, self.sql = app, []

    def __enter__(self):
        with self.app.app_context():
            self.engine = db.engine
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def _count(self, conn, cursor, statement, *args):
        self.sql.append(statement)

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._count)


def test_poll_answers_204_with_one_indexed_read_when_nothing_changed(app, client, pub):
    url = poll_url(page(client))
    with Statements(app) as st:
        resp = client.get(url, headers=HX)
    assert resp.status_code == 204 and resp.get_data() == b""
    assert resp.headers["Cache-Control"] == "no-cache"
    assert len(st.sql) <= 1, st.sql
    assert "setting" in st.sql[0].lower()


def test_poll_answers_the_new_slides_after_a_publication(app, client, org, pub):
    client.set_cookie("qscore_lang", "en")
    url = poll_url(page(client))
    with app.app_context():
        publish_quarter(org.other_branch_id)
        db.session.commit()
    resp = client.get(url, headers=HX)
    assert resp.status_code == 200
    fragment = resp.get_data(as_text=True)
    assert fragment.lstrip().startswith("<div id=\"board-live\"")
    assert "<html" not in fragment and "和平第一支部" in fragment
    assert poll_url(fragment) != url
    assert client.get(poll_url(fragment), headers=HX).status_code == 204


class _Clock:
    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now


def test_poll_across_two_app_instances_sharing_one_database(app, make_app, client, org, pub, monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(board_version_module, "time", clock)
    other = make_app()
    screen = other.test_client()
    url = poll_url(page(screen))
    assert screen.get(url, headers=HX).status_code == 204
    with app.app_context():  # the publication is made through the first process
        publish_quarter(org.other_branch_id)
        db.session.commit()
    # The other process keeps the stamp it read for at most READ_TTL_SECONDS, then reads the new one.
    clock.now += board_version_module.READ_TTL_SECONDS * 0.9
    assert screen.get(url, headers=HX).status_code == 204
    clock.now += board_version_module.READ_TTL_SECONDS * 0.2
    resp = screen.get(url, headers=HX)
    assert resp.status_code == 200 and "和平第一支部" in resp.get_data(as_text=True)


def test_a_commit_that_moves_the_stamp_is_seen_by_the_next_poll_of_its_process(app, client, org, pub, monkeypatch):
    clock = _Clock()  # frozen: only the commit can make the process read the stamp again
    monkeypatch.setattr(board_version_module, "time", clock)
    url = poll_url(page(client))
    assert client.get(url, headers=HX).status_code == 204
    with app.app_context():
        publish_quarter(org.other_branch_id)
        db.session.commit()
    resp = client.get(url, headers=HX)
    assert resp.status_code == 200 and "和平第一支部" in resp.get_data(as_text=True)
    assert client.get(poll_url(resp.get_data(as_text=True)), headers=HX).status_code == 204


def test_the_stamps_kept_are_bounded_whatever_ids_the_public_asks_for(app, client, org, pub):
    for street_id in range(10_000, 10_000 + CACHE_MAX + 50):
        client.get(f"/board/poll?street={street_id}&v=0&d=2026-05-18&build={board.BUILD}")  # an outsider's ids
    known = app.extensions["qscore_board_cache"]["board_versions"]
    assert len(known) <= CACHE_MAX + 1  # the stamps and the generation


def test_a_stamp_read_while_a_commit_moves_it_is_not_kept(app, org, pub):
    with app.app_context():
        street_id = org.street_id
        old = board_version_module.current(street_id)
        real = board_version_module.db.engine.connect

        def commit_meanwhile():  # the read starts, then this process commits a move before it is kept
            board_version_module.forget_read_stamps()
            return real()

        try:
            board_version_module.db.engine.connect = commit_meanwhile
            board_version_module.forget_read_stamps()
            assert board_version_module.current(street_id) == old
        finally:
            del board_version_module.db.engine.connect
        assert street_id not in board_version_module.process_cache("board_versions")


def test_poll_after_a_query_brings_the_new_counts(app, client, org, pub):
    url = poll_url(page(client))
    with app.app_context():
        db.session.add(ResidentQuery(publication_id=pub.id, branch_id=org.branch_id, member_label="张*",
                                     question="为什么？", ip="10.0.0.1"))
        bump_board_version(org.street_id)
        db.session.commit()
    resp = client.get(url, headers=HX)
    assert resp.status_code == 200
    assert 'data-count="received">1<' in resp.get_data(as_text=True)


def test_poll_from_another_build_reloads_the_page(client, pub):
    url = poll_url(page(client))
    assert f"build={board.BUILD}" in url
    resp = client.get(re.sub(r"build=[^&]+", "build=old-deploy", url), headers=HX)
    assert resp.status_code == 204 and resp.headers["HX-Refresh"] == "true"
    resp = client.get(re.sub(r"&?build=[^&]+", "", url), headers=HX)
    assert resp.headers.get("HX-Refresh") == "true"


def test_poll_refreshes_when_the_day_changes(client, pub):
    url = poll_url(page(client))
    assert f"d={FIXED_TODAY.isoformat()}" in url
    resp = client.get(url.replace(FIXED_TODAY.isoformat(), (FIXED_TODAY - timedelta(days=1)).isoformat()),
                      headers=HX)
    assert resp.status_code == 200


def test_the_page_carries_the_build_and_poll_interval(make_app, org, pub):
    app2 = make_app(BOARD_POLL_SECONDS=3)
    body = page(app2.test_client())
    assert 'hx-trigger="every 3s"' in body
    assert f'data-build="{board.BUILD}"' in body
    assert "<script>" not in body and " style=" not in body


# ---------------------------------------------------------------------------------------------
# Queries on the board, the QR code
# ---------------------------------------------------------------------------------------------

def test_query_counts_on_the_board(app, client, org, pub):
    with app.app_context():
        for i, answered in enumerate((True, False, False)):
            db.session.add(ResidentQuery(publication_id=pub.id, branch_id=org.branch_id, member_label="张*",
                                         question=f"问题{i}", ip="10.0.0.1", answer="已核实" if answered else "",
                                         answered_at=datetime(2026, 5, 1) if answered else None))
        db.session.commit()
    body = page(client)
    assert 'data-count="received">3<' in body and 'data-count="answered">1<' in body


def test_no_qr_without_a_public_address_but_phone_and_opinion_box(app, client, org, pub):
    with app.app_context():
        set_setting(org.street_id, "office_phone", "0571-8765 4321")
        set_setting(org.street_id, "opinion_box", "党群服务中心一楼大厅")
        db.session.commit()
    body = page(client)
    assert "<svg" not in body
    assert "0571-8765 4321" in body and "党群服务中心一楼大厅" in body
    assert f'href="/queries/new?pub={pub.id}"' in body


def _ask_block(body: str) -> str:
    start = body.index('class="board-foot-block board-foot-ask"')
    return body[start:body.index('class="board-foot-block board-foot-counts"', start)]


def test_without_phone_or_opinion_box_the_board_says_where_to_ask(app, client, org, pub):
    """The street's defaults (no phone, no box, no public address) still tell a resident what to do, in words."""
    body = page(client)
    ask = _ask_block(body)
    assert "当面反映" in ask and "请到社区办公室" in ask
    assert "监督电话" not in ask and "意见箱" not in ask
    assert f'href="/queries/new?pub={pub.id}"' in ask and "也可在社区办公室电脑上提出质询" in ask
    with app.app_context():
        set_setting(org.street_id, "office_phone", "0571-8765 4321")
        bump_board_version(org.street_id)
        db.session.commit()
    body = page(client)
    ask = _ask_block(body)
    assert "监督电话" in ask and "0571-8765 4321" in ask and "当面反映" in ask  # no box yet: in person still


def test_the_community_is_named_once_per_slide(client, org, pub):
    body = page(client)
    slide = body[body.index('<section class="board-slide'):body.index("</footer>")]
    assert slide.count("前进社区") == 1 and slide.count("第一党支部") == 1


def test_qr_code_encodes_the_public_query_address(app, client, org, pub):
    with app.app_context():
        set_setting(org.street_id, "query_public_url", "https://dj.example.cn/queries/new")
        db.session.commit()
    body = page(client)
    expected = f"https://dj.example.cn/queries/new?pub={pub.id}"
    assert f'href="{expected}"' in body
    svg = re.search(r"<svg[^>]*board-qr-code.*?</svg>", body, re.S).group(0)
    paths = re.findall(r' d="([^"]+)"', svg)
    reference = segno.make(expected, error="m", micro=False).svg_inline(border=2, omitsize=True)
    assert re.search(r' d="([^"]+)"', reference).group(1) in paths  # the same modules: the same address
    assert "<script" not in svg and " style=" not in svg


def test_public_query_url_keeps_its_own_query_string():
    assert board.public_query_url("https://x.cn/q?src=board", 7) == "https://x.cn/q?src=board&pub=7"
    assert board.public_query_url("https://x.cn/q", 7) == "https://x.cn/q?pub=7"


# ---------------------------------------------------------------------------------------------
# Caching
# ---------------------------------------------------------------------------------------------

def test_a_publication_renders_once_per_language_and_setting(app, client, org, pub):
    page(client)
    with Statements(app) as st:
        page(client)
    assert not any("snapshot" in s.lower() for s in st.sql), "a cached publication's snapshot is not read again"
    cache = app.extensions["qscore_board_cache"]["pages"]
    assert len(cache) == 1
    client.set_cookie("qscore_lang", "en")
    page(client)
    assert len(cache) == 2


def test_an_unchanged_board_is_served_from_one_indexed_read(app, client, org, pub, monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(board_version_module, "time", clock)
    first = page(client, f"/board/{org.community_id}")
    with Statements(app) as st:
        again = page(client, f"/board/{org.community_id}")
    assert again == first
    assert st.sql == [], "within the stamp's TTL the board reads nothing"
    clock.now += board_version_module.READ_TTL_SECONDS
    with Statements(app) as st:
        again = page(client, f"/board/{org.community_id}")
    assert again == first
    assert len(st.sql) == 1 and "setting" in st.sql[0].lower(), st.sql


def test_renaming_a_branch_or_a_booklet_number_shows_at_once(app, client, org, pub):
    body = page(client)
    assert "王*英(07)" in body and "王*英(12)" in body and "第一党支部" in body
    with app.app_context():
        from qscore.models import Member
        db.session.get(Branch, org.branch_id).name = "幸福里党支部"
        db.session.get(Member, pub.wang1).booklet_no = "QJ-0199"
        db.session.commit()  # no explicit bump: the change itself moves the board version
    body = page(client)
    assert "幸福里党支部" in body and "第一党支部" not in body
    assert "王*英(99)" in body and "王*英(07)" not in body


def test_a_retired_community_leaves_the_board_even_after_it_was_shown(app, client, org, pub):
    page(client, f"/board/{org.community_id}")
    with app.app_context():
        from qscore.models import Community
        db.session.get(Community, org.community_id).retired = True
        db.session.commit()
    assert client.get(f"/board/{org.community_id}").status_code == 404


def test_every_change_the_board_shows_moves_its_version_through_the_one_listener(app, org, pub):
    """No write calls bump(): settings, queries and their answers, a retraction, names and statuses move the
    version in the same flush; a change the board does not show (a phone number) does not."""
    from qscore.board_version import KEY
    from qscore.models import Member, Setting

    def version():
        return db.session.scalar(select(Setting.value).where(Setting.street_id == org.street_id, Setting.key == KEY))

    changes = [
        lambda: set_setting(org.street_id, "office_phone", "0571-1234 5678"),
        lambda: db.session.add(ResidentQuery(publication_id=pub.id, branch_id=org.branch_id, question="为何扣分？")),
        lambda: setattr(db.session.scalar(select(ResidentQuery)), "answered_at", datetime(2026, 5, 2, 8)),
        lambda: setattr(db.session.get(Member, pub.zhang), "name", "张山"),
        lambda: setattr(db.session.get(Member, pub.li), "status", "deceased"),
        lambda: setattr(db.session.get(Branch, org.branch_id), "name", "第一党支部（新）"),
        lambda: setattr(db.session.get(Publication, pub.id), "retracted_at", datetime(2026, 5, 3, 9)),
    ]
    with app.app_context(), app.test_request_context():
        for change in changes:
            before = version()
            change()
            db.session.commit()
            assert version() != before
        before = version()
        db.session.get(Member, pub.wang1).phone = "13900000000"
        db.session.commit()
        assert version() == before
