"""The noticeboard on a 1920×1080 screen: a new publication appears without a reload; a resident asks, the secretary answers."""
from __future__ import annotations

import re
from datetime import date, datetime

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from qscore import board as board_module
from qscore.db import db
from qscore.ledger import record_entry
from qscore.models import User
from qscore.board_version import bump as bump_board_version
from qscore.street_settings import set_setting

from ..conftest import FIXED_TODAY, TEST_PASSWORD, make_member
from ..test_board import publish_quarter
from .conftest import screenshot

pytestmark = pytest.mark.e2e

POLL_SECONDS = 1
# 第一党支部: 26 members of the four types (enough for two pages), with a quarter of ordinary entries.
MEMBERS = [
    ("刘建国", "A"), ("陈丽华", "A"), ("张志强", "A"), ("杨帆", "A"), ("赵敏", "A"), ("黄海涛", "A"),
    ("王秀英", "B"), ("王桂英", "B"), ("李淑珍", "B"), ("周德福", "B"), ("吴玉兰", "B"), ("徐长顺", "B"),
    ("孙凤琴", "B"), ("马志明", "B"), ("朱秀云", "B"), ("胡国庆", "B"),
    ("郭小龙", "C"), ("何晓燕", "C"), ("欧阳明华", "C"), ("林峰", "C"),
    ("高玉珍", "D"), ("罗家栋", "D"), ("梁淑芬", "D"), ("宋德厚", "D"), ("郑桂兰", "D"), ("谢宝山", "D"),
]


def _entries(i: int):
    yield "J1", None, date(2026, 1, 16), ""
    if i % 4 != 3:
        yield "J1", None, date(2026, 2, 13), ""
    yield "J3", None, date(2026, 1, 20), ""
    if i % 3 == 0:
        yield "Z3", str(2 + i % 5), date(2026, 3, 8), "社区环境整治"
    if i % 5 == 1:
        yield "Z2", None, date(2026, 2, 25), "走访联系户"
    if i % 7 == 2:
        yield "Z4", None, date(2026, 1, 28), "春节值守"
    if i == 9:
        yield "K3", None, date(2026, 3, 18), "未完成交办任务"


@pytest.fixture
def board_street(fresh_db, street):
    """The test street with 第一党支部 published for 2026-Q1, a public query address and the office contacts."""
    app = fresh_db
    with app.app_context(), app.test_request_context():
        bs = db.session.scalar(select(User).where(User.username == "bs"))
        for i, (name, code) in enumerate(MEMBERS):
            m = make_member(street.branch_id, name, code, booklet_no=f"QJ-{i * 53 % 100 + 100:04d}",
                            phone=f"139{i:08d}", address="前进路 8 号")
            for indicator, value, day, note in _entries(i):
                record_entry(member=m, indicator_code=indicator, value=value, earned_on=day, note=note, user=bs,
                             today=FIXED_TODAY)
        for i, name in enumerate(("陈志刚", "李秀梅", "王建华", "张春燕", "刘德胜", "杨丽娟", "赵国强")):
            m = make_member(street.other_branch_id, name, "ABCD"[i % 4])
            record_entry(member=m, indicator_code="J1", value=None, earned_on=date(2026, 1, 16), note="", user=bs,
                         today=FIXED_TODAY)
            record_entry(member=m, indicator_code="Z3", value=str(i + 1), earned_on=date(2026, 2, 20),
                         note="志愿服务", user=bs, today=FIXED_TODAY)
        publish_quarter(street.branch_id, user_id=bs.id, published_at=datetime(2026, 4, 15, 2, 0),
                        supervision_ends_on=date(2026, 4, 20))
        set_setting(street.street_id, "office_phone", "0571-8765 4321")
        set_setting(street.street_id, "opinion_box", "社区党群服务中心一楼大厅")
        db.session.commit()
    previous = app.config.get("BOARD_POLL_SECONDS")
    app.config["BOARD_POLL_SECONDS"] = POLL_SECONDS
    yield street
    app.config["BOARD_POLL_SECONDS"] = previous if previous is not None else 10


def _publish_other_branch(app, street) -> None:
    with app.app_context():
        publish_quarter(street.other_branch_id, published_at=datetime(2026, 5, 20, 1, 0),
                        supervision_ends_on=date(2026, 5, 25))
        db.session.commit()


def test_board_updates_live_and_a_resident_query_is_answered(page, browser, base_url, fresh_db, board_street, a11y):
    app = fresh_db
    with app.app_context():
        set_setting(board_street.street_id, "query_public_url", f"{base_url}/queries/new")
        db.session.commit()

    # The office screen: full HD, the street's board.
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto("/board")
    slide = page.locator(".board-slide.is-active")
    expect(slide.locator(".board-title")).to_contain_text("2026")
    expect(slide.locator(".board-org")).to_contain_text("第一党支部")
    expect(slide.locator(".board-page.is-active .board-name").first).to_be_visible()
    # names are at least 32 px, masked, with a clash told apart by the booklet number
    size = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.board-page.is-active .board-name')).fontSize)")
    assert size >= 32
    text = page.locator("#board-live").text_content()
    assert "王*英(" in text and "欧*华" in text and "王秀英" not in text
    assert not re.search(r"1[3-9]\d{9}", page.content())
    expect(page.locator(".board-qr svg")).to_be_visible()
    a11y.check(page)
    screenshot(page, "board-1920x1080")

    # A publication made elsewhere appears within one poll interval, without a reload.
    page.evaluate("window.__boardMarker = 'still here'")
    _publish_other_branch(app, board_street)
    expect(page.locator(".board-slide.is-active .board-org")).to_contain_text("和平第一支部",
                                                                             timeout=(POLL_SECONDS + 3) * 1000)
    assert page.evaluate("window.__boardMarker") == "still here"
    a11y.check(page)
    screenshot(page, "board-new-publication")

    # The server goes away: the screen keeps the last figures, says so quietly, and resumes when it is back.
    page.route("**/board/poll**", lambda route: route.abort())
    expect(page.locator("#board-status")).to_be_visible(timeout=(POLL_SECONDS + 3) * 1000)
    expect(page.locator(".board-slide.is-active .board-org")).to_contain_text("和平第一支部")
    page.unroute_all(behavior="wait")  # a poll already caught by the route is aborted before the server is back
    expect(page.locator("#board-status")).to_be_hidden(timeout=(POLL_SECONDS + 3) * 1000)

    # A resident scans the code (here: follows its link) on a phone and asks about a masked name.
    query_url = page.locator(".board-slide[data-slide='b%d'] .board-qr" % board_street.branch_id).get_attribute("href")
    assert query_url.startswith(f"{base_url}/queries/new?pub=")
    phone = browser.new_context(base_url=base_url, viewport={"width": 390, "height": 844}, locale="zh-CN")
    resident = phone.new_page()
    resident.goto(query_url)
    expect(resident.get_by_role("heading", level=1)).to_be_visible()
    a11y.check(resident)
    labels = resident.locator("select[name=member] option").all_inner_texts()
    assert "欧*华" in labels and not any("欧阳明华" in label for label in labels)
    resident.locator("select[name=member]").select_option("欧*华")
    resident.locator("textarea[name=question]").fill("欧*华一季度参加了两次主题党日，为什么基本分只有一次？")
    resident.locator("input[name=asker_contact]").fill("前进路 8 号门卫室转交")
    screenshot(resident, "query-phone-form")
    resident.locator(".query-ask button[type=submit]").click()
    expect(resident).to_have_url(re.compile(r"/queries/thanks\?pub=\d+$"))
    a11y.check(resident)
    screenshot(resident, "query-phone-thanks")
    phone.close()

    # The board's count follows without a reload.
    received = page.locator(f".board-slide[data-slide='b{board_street.branch_id}'] [data-count=received]")
    expect(received).to_have_text("1", timeout=(POLL_SECONDS + 3) * 1000)

    # The branch secretary answers it.
    office = browser.new_context(base_url=base_url, viewport={"width": 1366, "height": 900})
    secretary = office.new_page()
    secretary.goto("/login")
    secretary.get_by_label("用户名").fill("bs")
    secretary.get_by_label("密码").fill(TEST_PASSWORD)
    secretary.get_by_role("button", name="登录").click()
    secretary.wait_for_load_state()
    secretary.goto("/queries")
    card = secretary.locator(".query-card").first
    expect(card).to_contain_text("欧*华")
    expect(card).to_contain_text("欧阳明华")
    a11y.check(secretary)
    card.locator("textarea").fill("经核对签到表，二月主题党日已补记，将在下次公示中列为调整。")
    card.locator("button[type=submit]").click()
    answered = secretary.locator(".query-card.is-answered").first
    expect(answered).to_contain_text("经核对签到表")
    expect(secretary.locator("#queries-answered-count")).to_have_text("1")
    expect(secretary.locator("#answered-empty")).to_be_empty()
    a11y.check(secretary)
    screenshot(secretary, "queries-secretary")
    office.close()

    answered_count = page.locator(f".board-slide[data-slide='b{board_street.branch_id}'] [data-count=answered]")
    expect(answered_count).to_have_text("1", timeout=(POLL_SECONDS + 3) * 1000)
    assert page.evaluate("window.__boardMarker") == "still here"


def test_board_pages_through_a_long_branch_and_reloads_after_a_deploy(page, fresh_db, board_street, a11y,
                                                                       monkeypatch):
    app = fresh_db
    with app.app_context():
        set_setting(board_street.street_id, "board_rotation_seconds", 5)
        db.session.commit()
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(f"/board/{board_street.community_id}/{board_street.branch_id}")
    pages = page.locator(".board-slide.is-active .board-page")
    assert pages.count() >= 2
    first = page.locator(".board-page.is-active").get_attribute("data-page")
    expect(page.locator(".board-page.is-active")).not_to_have_attribute("data-page", first, timeout=8000)
    a11y.check(page)
    screenshot(page, "board-1920x1080-page-2")

    # A deploy changes the build: the next poll reloads the page once, then polling goes on quietly.
    page.evaluate("window.__boardMarker = 'old build'")
    monkeypatch.setattr(board_module, "BUILD", "new-deploy")
    expect(page.locator("body")).to_have_attribute("data-build", "new-deploy", timeout=(POLL_SECONDS + 3) * 1000)
    assert page.evaluate("window.__boardMarker") is None
    with app.app_context():
        bump_board_version(board_street.street_id)
        db.session.commit()
    # The bump's poll brings new slides (200), the next one nothing new (204); neither reloads the page.
    with page.expect_response(lambda r: "/board/poll" in r.url and r.status == 200,
                              timeout=(POLL_SECONDS + 3) * 1000):
        pass
    assert page.evaluate("window.__boardMarker = 'new build'; window.__boardMarker") == "new build"
    with page.expect_response(lambda r: "/board/poll" in r.url and r.status == 204,
                              timeout=(POLL_SECONDS + 3) * 1000):
        pass
    assert page.evaluate("window.__boardMarker") == "new build"


def test_empty_board_before_any_publication(page, fresh_db, street, a11y):
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto("/board")
    expect(page.locator(".board-empty-text")).to_be_visible()
    a11y.check(page)


# ---------------------------------------------------------------------------------------------
# The screen itself: everything fits, nothing is small, nothing logs an error (issue 14, items 9 and 10)
# ---------------------------------------------------------------------------------------------

SIZES = [(1920, 1080), (1366, 768)]
MIN_TEXT_PX = 24
# 再就业党支部: 40 members of two types whose masked names all clash (every label carries booklet digits,
# the widest a name gets), for two full pages of 20.
LONG_BRANCH = [s + g for s in "王李张刘陈杨黄赵吴周" for g in ("建华", "振华", "秀英", "桂英")]

# Shows every page of every slide in turn and measures it: what lies outside the viewport, text under
# MIN_TEXT_PX (pseudo-elements included), text cut short by an ellipsis, text drawn over other text, figures
# running into the strip above the footer (where the offline note sits), and the visible text (to count
# the community's name).
MEASURE_EVERY_PAGE = """(minText) => {
  const vw = innerWidth, vh = innerHeight, tol = 0.5;
  const shown = el => { const cs = getComputedStyle(el); const r = el.getBoundingClientRect();
    return cs.display !== 'none' && cs.visibility !== 'hidden' && (r.width > 0 || r.height > 0); };
  const name = el => el.tagName.toLowerCase() + '.'
    + String(el.className.baseVal ?? el.className).trim().replace(/\\s+/g, '.')
    + ' "' + (el.textContent || '').trim().slice(0, 24) + '"';
  const measure = () => {
    const out = {bottom: 0, right: 0, smallest: Infinity, outside: [], small: [], clipped: [], intoStrip: []};
    for (const el of document.querySelectorAll('body *')) {
      if (!shown(el)) continue;
      const r = el.getBoundingClientRect(), cs = getComputedStyle(el);
      out.bottom = Math.max(out.bottom, r.bottom); out.right = Math.max(out.right, r.right);
      if (r.left < -tol || r.top < -tol || r.right > vw + tol || r.bottom > vh + tol)
        out.outside.push(`${name(el)} [${r.left}, ${r.top}, ${r.right}, ${r.bottom}]`);
      const texts = [...el.childNodes].filter(n => n.nodeType === 3 && n.textContent.trim());
      const sizes = texts.map(() => cs.fontSize);
      for (const p of ['::before', '::after']) {
        const ps = getComputedStyle(el, p);
        if (ps.content && !['none', 'normal', '""'].includes(ps.content)) sizes.push(ps.fontSize);
      }
      for (const size of sizes) {
        const px = parseFloat(size);
        out.smallest = Math.min(out.smallest, px);
        if (px < minText) out.small.push(`${name(el)} ${px}px`);
      }
      if (texts.length && el.scrollWidth > el.clientWidth + 1 && cs.overflowX !== 'visible') out.clipped.push(name(el));
    }
    // Text drawn over other text: each text line's ink (the middle 0.9em of its box) against every other's.
    const ink = [];
    for (const el of document.querySelectorAll('body *')) {
      if (!shown(el)) continue;
      const half = 0.45 * parseFloat(getComputedStyle(el).fontSize);
      for (const n of el.childNodes) {
        if (n.nodeType !== 3 || !n.textContent.trim()) continue;
        const range = document.createRange(); range.selectNodeContents(n);
        for (const r of range.getClientRects()) {
          const mid = (r.top + r.bottom) / 2;
          if (r.width > 0) ink.push({el, left: r.left, right: r.right, top: mid - half, bottom: mid + half});
        }
      }
    }
    out.overlaps = [];
    for (let i = 0; i < ink.length; i++) for (let j = i + 1; j < ink.length; j++) {
      const a = ink[i], b = ink[j];
      if (a.el !== b.el && a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1)
        out.overlaps.push(`${name(a.el)} / ${name(b.el)}`);
    }
    const body = document.querySelector('.board-slide.is-active .board-body');
    if (body) {
      const limit = body.getBoundingClientRect().bottom - parseFloat(getComputedStyle(body).paddingBottom);
      for (const el of body.querySelectorAll('.board-page.is-active *'))
        if (!el.closest('.board-pager') && shown(el) && el.getBoundingClientRect().bottom > limit + tol)
          out.intoStrip.push(name(el));
    }
    out.text = document.body.innerText;
    return out;
  };
  const live = document.getElementById('board-live');
  const before = [...live.querySelectorAll('.is-active')];
  const results = [];
  for (const slide of live.querySelectorAll('.board-slide')) {
    for (const page of slide.querySelectorAll('.board-page')) {
      live.querySelectorAll('.is-active').forEach(n => n.classList.remove('is-active'));
      slide.classList.add('is-active'); page.classList.add('is-active');
      results.push({page: page.dataset.page, slide: slide.dataset.slide, rows: page.dataset.rows,
                    adjust: page.classList.contains('board-adjust'), ...measure()});
    }
  }
  live.querySelectorAll('.is-active').forEach(n => n.classList.remove('is-active'));
  before.forEach(n => n.classList.add('is-active'));
  return results;
}"""

# What the offline note overlaps: any other element that shows text or a figure.
STATUS_COVERS = """() => {
  const s = document.getElementById('board-status').getBoundingClientRect();
  const hits = [];
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('#board-status')) continue;
    const cs = getComputedStyle(el), r = el.getBoundingClientRect();
    if (cs.display === 'none' || cs.visibility === 'hidden' || !r.width || !r.height) continue;
    const content = el.matches('svg, img') || [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (content && r.left < s.right && s.left < r.right && r.top < s.bottom && s.top < r.bottom)
      hits.push(el.tagName + ' ' + el.textContent.trim().slice(0, 24));
  }
  const fontSize = parseFloat(getComputedStyle(document.getElementById('board-status')).fontSize);
  return {status: [s.left, s.top, s.right, s.bottom], fontSize, hits};
}"""


OUTAGE_LOG = re.compile(r"(htmx:(afterRequest|sendError)\b|Failed to load resource: net::ERR_FAILED @ .*/board/poll)")


def _show(page, data_slide: str, n: int = 0) -> None:
    """Puts a slide's n-th page on screen at once (the rotation would take a minute to get there)."""
    page.evaluate("""([s, n]) => { const live = document.getElementById('board-live');
        live.classList.add('board-still');
        live.querySelectorAll('.is-active').forEach(e => e.classList.remove('is-active'));
        const slide = live.querySelector(`.board-slide[data-slide="${s}"]`);
        slide.classList.add('is-active'); slide.querySelectorAll('.board-page')[n].classList.add('is-active'); }""",
                  [data_slide, n])


def _console_errors(page) -> list[str]:
    """Every console error and uncaught exception of the page, as they come."""
    errors: list[str] = []
    page.on("console",
            lambda m: errors.append(f"{m.text} @ {m.location.get('url', '')}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    return errors


def _assert_fits(page, communities: dict[str, str]) -> dict:
    """Every page of every slide fits the viewport, with no text under 24 px and none cut short, its figures
    above the strip, and its community named once; returns the figures measured."""
    results = page.evaluate(MEASURE_EVERY_PAGE, MIN_TEXT_PX)
    assert results
    for r in results:
        where = f"{r['slide']} {r['page']}"
        assert not r["outside"], (where, r["outside"])
        assert not r["small"], (where, r["small"])
        assert not r["clipped"], (where, r["clipped"])
        assert not r["intoStrip"], (where, r["intoStrip"])
        assert not r["overlaps"], (where, r["overlaps"])
        community = communities[r["slide"]]
        assert r["text"].count(community) == 1, (where, community, r["text"].count(community))
    sizes: dict[str, list[int]] = {}
    for r in results:
        if not r["adjust"] and r["rows"] is not None:
            sizes.setdefault(r["slide"], []).append(int(r["rows"]))
    for slide, rows in sizes.items():
        assert max(rows) - min(rows) <= 1, (slide, rows)  # pages packed evenly
    return {"lowest_bottom": max(r["bottom"] for r in results), "rightmost": max(r["right"] for r in results),
            "smallest_font": min(r["smallest"] for r in results), "page_rows": sizes}


@pytest.mark.parametrize(("width", "height"), SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_the_board_fits_the_screen_legibly_without_console_errors(page, fresh_db, board_street, a11y, width, height):
    app = fresh_db
    street = board_street
    with app.app_context(), app.test_request_context():
        bs = db.session.scalar(select(User).where(User.username == "bs"))
        for i, name in enumerate(LONG_BRANCH):
            m = make_member(street.sibling_branch_id, name, "A" if i < 20 else "B", booklet_no=f"ZJ-{i + 1:04d}")
            record_entry(member=m, indicator_code="J1", value=None, earned_on=date(2026, 1, 16), note="", user=bs,
                         today=FIXED_TODAY)
        publish_quarter(street.sibling_branch_id, published_at=datetime(2026, 4, 16, 2, 0),
                        supervision_ends_on=date(2026, 4, 21))
        # A street that has not yet told the board its phone or its opinion box.
        set_setting(street.street_id, "office_phone", "")
        set_setting(street.street_id, "opinion_box", "")
        set_setting(street.street_id, "board_rotation_seconds", 60)
        db.session.commit()
    communities = {f"b{street.branch_id}": "前进社区", f"b{street.sibling_branch_id}": "前进社区",
                   f"b{street.other_branch_id}": "和平社区"}
    errors = _console_errors(page)
    page.set_viewport_size({"width": width, "height": height})
    page.goto("/board")
    slide = page.locator(".board-slide.is-active")
    expect(slide.locator(".board-page.is-active .board-name").first).to_be_visible()
    # No phone, no opinion box: words a resident understands, not a bare link.
    ask = slide.locator(".board-foot-ask")
    expect(ask).to_contain_text("当面反映")
    expect(ask).to_contain_text("请到社区办公室")
    expect(ask).not_to_contain_text("监督电话")
    measured = {"without contacts": _assert_fits(page, communities)}
    a11y.check(page)
    screenshot(page, f"board-{width}x{height}-no-contacts")

    # The office fills in its phone, opinion box and public query address: the screen follows by itself.
    with app.app_context():
        set_setting(street.street_id, "office_phone", "0571-8765 4321")
        set_setting(street.street_id, "opinion_box", "社区党群服务中心一楼大厅")
        set_setting(street.street_id, "query_public_url", f"{page.url.split('/board')[0]}/queries/new")
        bump_board_version(street.street_id)  # as the settings page does
        db.session.commit()
    expect(slide.locator(".board-qr svg")).to_be_visible(timeout=(POLL_SECONDS + 3) * 1000)
    expect(ask).to_contain_text("0571-8765 4321")
    expect(ask).not_to_contain_text("当面反映")
    measured["with QR code"] = _assert_fits(page, communities)
    a11y.check(page)
    screenshot(page, f"board-{width}x{height}-contacts")

    # A long branch: two full pages of 20, the widest names.
    long_slide = page.locator(f".board-slide[data-slide='b{street.sibling_branch_id}']")
    assert long_slide.locator(".board-page").evaluate_all("ps => ps.map(p => +p.dataset.rows)") == [20, 20]
    _show(page, f"b{street.sibling_branch_id}", 1)
    screenshot(page, f"board-{width}x{height}-full-page")
    assert measured["with QR code"]["page_rows"][f"b{street.branch_id}"] == [13, 13]  # 26 members, not 20/6

    # Another branch publishes while the screen is on: it arrives through the poll, still without errors.
    _publish_other_branch(app, street)
    expect(page.locator(".board-slide.is-active .board-org")).to_contain_text("和平第一支部",
                                                                             timeout=(POLL_SECONDS + 3) * 1000)
    measured["after a new publication"] = _assert_fits(page, communities)
    a11y.check(page)
    assert errors == []

    # The server goes away: the quiet note sits where it covers no name, figure or date.
    page.route("**/board/poll**", lambda route: route.abort())
    expect(page.locator("#board-status")).to_be_visible(timeout=(POLL_SECONDS + 3) * 1000)
    for data_slide in communities:
        for n in range(page.locator(f".board-slide[data-slide='{data_slide}'] .board-page").count()):
            _show(page, data_slide, n)
            covers = page.evaluate(STATUS_COVERS)
            assert not covers["hits"], (data_slide, n, covers)
            assert covers["fontSize"] >= MIN_TEXT_PX
            left, top, right, bottom = covers["status"]
            assert 0 <= left and right <= width and 0 <= top and bottom <= height
    screenshot(page, f"board-{width}x{height}-offline")
    page.unroute_all(behavior="wait")  # a poll already caught by the route is aborted before the server is back
    expect(page.locator("#board-status")).to_be_hidden(timeout=(POLL_SECONDS + 3) * 1000)
    # While it was away the browser and htmx logged the failed polls, and nothing else; once it is back, nothing.
    assert errors and all(OUTAGE_LOG.match(e) for e in errors), errors
    del errors[:]
    with page.expect_response("**/board/poll**"):
        pass
    assert errors == []
    print(f"\nboard at {width}x{height}: {measured}")
