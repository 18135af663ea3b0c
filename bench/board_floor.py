"""Floors of the public noticeboard: a community's board page, and a poll with nothing new.

The board page floor reads each branch's latest live publication of the community (one grouped
query), its resident-query counts (one query), the street's settings (one query) and the board
version (one indexed read); parses every snapshot's JSON (no cache: a floor caches nothing), masks
the names with ``qscore.privacy``'s pure functions, lays the rows out with the pure
``qscore.board.pages.paginate`` (the layout is visible: which names share a screen), and joins
the HTML. The poll floor is the one indexed read the poll needs and a comparison.
"""
from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal

from qscore import privacy
from qscore.board.pages import ADJUSTMENT_COLUMNS, ADJUSTMENT_UNITS, MEMBER_COLUMNS, paginate
from qscore.names import sort_key
from qscore.public_snapshot import plain_points as plain, signed_points as signed
from qscore.street_settings import DEFAULTS

from .floors import E, SHANGHAI, TYPE_LABEL, UTC, Floors

QUARTER = {1: "第一季度", 2: "第二季度", 3: "第三季度", 4: "第四季度"}


def cn_date(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _sort_key(r: dict):
    return sort_key(r["name"]), r["name"], r["member_id"]  # pinyin, as every list of the app (qscore/names.py)


def board_version(f: Floors, street_id: int) -> str:
    rows = f.rows("SELECT value FROM setting WHERE street_id = ? AND key = 'board_version'", (street_id,))
    return "0" if not rows else str(json.loads(rows[0][0]) if f.sqlite else rows[0][0])


def poll(f: Floors, street_id: int, version: str, day: str) -> int:
    """A poll with nothing new: the status the screen gets (204 = keep what is shown)."""
    return 204 if board_version(f, street_id) == version and day == f.today.isoformat() else 200


def _settings(f: Floors, street_id: int) -> dict:
    out = dict(DEFAULTS)
    for key, value in f.rows("SELECT key, value FROM setting WHERE street_id = ?", (street_id,)):
        if key in out:
            out[key] = json.loads(value) if f.sqlite else value
    return out


def _pages(pub_id: int, rows: list[dict], adjustments: list[dict], labels: dict[int, str], mask: bool) -> str:
    by_type: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_type[r["type"]].append(r)
    sections = [(code, sorted(by_type[code], key=_sort_key)) for code in "ABCD" if by_type.get(code)]
    member_pages = paginate(sections, MEMBER_COLUMNS)
    net: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
    names = {}
    for a in adjustments:
        net[(a["period"], a["member_id"])] += Decimal(str(a["points"]))
        names[a["member_id"]] = a.get("name", "")
    periods: dict[str, list] = defaultdict(list)
    for (period, mid), points in sorted(net.items()):
        if points:
            label = labels.get(mid) or (privacy.mask_name(names[mid]) if mask else names[mid])
            periods[period].append((label, points))
    adjustment_pages = paginate(sorted(periods.items()), ADJUSTMENT_COLUMNS, ADJUSTMENT_UNITS)
    total = max(len(member_pages) + len(adjustment_pages), 1)
    out = []
    for n, page in enumerate(member_pages, 1):
        out.append(f'<div class="board-page{" is-active" if n == 1 else ""} board-cols-{len(page)}" '
                   f'data-page="p{pub_id}-{n}">')
        for column in page:
            out.append('<div class="board-col">')
            for seg in column:
                out.append(
                    f'<section class="board-section board-type-{seg.key.lower()}"><h2 class="board-section-title">'
                    f'<span class="board-type">{TYPE_LABEL[seg.key]}</span><span class="board-section-count">'
                    f'{seg.total} 名党员</span>{"<span class=board-cont>续</span>" if seg.continued else ""}</h2>'
                    '<table class="board-table"><thead><tr><th scope="col" class="board-name-head">姓名</th>'
                    '<th scope="col">基本分</th><th scope="col">岗位分</th><th scope="col">扣分</th>'
                    '<th scope="col">本季度</th><th scope="col" class="board-year-head">年度累计</th></tr></thead><tbody>')
                for r in seg.rows:
                    out.append(
                        f'<tr><th scope="row" class="board-name">{E(labels[r["member_id"]])}</th>'
                        f'<td>{plain(r["J"])}</td><td>{plain(r["Z"])}</td>'
                        f'<td class="{"board-neg" if r["K"].startswith("-") else ""}">{plain(r["K"])}</td>'
                        f'<td class="board-quarter">{plain(r["quarter_total"])}</td>'
                        f'<td class="board-year">{plain(r["year_to_date"])}</td></tr>')
                out.append("</tbody></table></section>")
            out.append("</div>")
        if total > 1:
            out.append(f'<p class="board-pager">第 {n} 页,共 {total} 页</p>')
        out.append("</div>")
    offset = len(member_pages)
    for n, page in enumerate(adjustment_pages, offset + 1):
        out.append(f'<div class="board-page board-adjust{" is-active" if n == 1 else ""} board-cols-{len(page)}" '
                   f'data-page="p{pub_id}-{n}"><h2 class="board-adjust-title">对已公示季度的调整</h2>'
                   '<div class="board-adjust-cols">')
        for column in page:
            out.append('<div class="board-col">')
            for seg in column:
                out.append(f'<section class="board-section"><h3 class="board-section-title">{E(seg.key)} 的调整</h3>'
                           '<ul class="board-adjust-list">')
                out.extend(f'<li><span class="board-name">{E(label)}</span><span class="board-adjust-points '
                           f'{"board-neg" if points < 0 else "board-pos"}">{signed(points)}</span></li>'
                           for label, points in seg.rows)
                out.append("</ul></section>")
            out.append("</div>")
        out.append("</div>")
        if total > 1:
            out.append(f'<p class="board-pager">第 {n} 页,共 {total} 页</p>')
        out.append("</div>")
    if not member_pages and not adjustment_pages:
        out.append(f'<div class="board-page is-active" data-page="p{pub_id}-1"><p class="board-empty-text">'
                   '季度末无在册党员。</p></div>')
    return "".join(out)


def _local(ts) -> date:
    if isinstance(ts, str):
        ts = datetime.fromisoformat(ts)
    return ts.replace(tzinfo=UTC).astimezone(SHANGHAI).date()


def board(f: Floors, community_id: int) -> str:
    """The board page of one community: every branch's latest live publication."""
    row = f.rows("SELECT c.id, c.name, c.street_id FROM community c WHERE c.id = ? AND NOT c.retired",
                 (community_id,))
    if not row:
        raise LookupError("no community")
    _cid, cname, street_id = row[0]
    version = board_version(f, street_id)
    settings = _settings(f, street_id)
    mask = bool(settings["mask_names"])
    pubs = f.rows(
        "SELECT p.id, p.year, p.quarter, p.published_at, p.meeting_on, p.supervision_ends_on, p.snapshot, "
        "p.adjustments, b.id, b.name FROM publication p JOIN branch b ON b.id = p.branch_id "
        "WHERE b.community_id = ? AND NOT b.retired AND p.retracted_at IS NULL AND p.year * 10 + p.quarter = "
        "(SELECT MAX(p2.year * 10 + p2.quarter) FROM publication p2 WHERE p2.branch_id = p.branch_id "
        "AND p2.retracted_at IS NULL) ORDER BY b.id, p.published_at DESC, p.id DESC", (community_id,))
    seen, latest = set(), []
    for p in pubs:
        if p[8] not in seen:
            seen.add(p[8])
            latest.append(p)
    counts = {}
    if latest:
        ids = [p[0] for p in latest]
        counts = {pid: (n, a) for pid, n, a in f.rows(
            f"SELECT publication_id, COUNT(*), COUNT(answered_at) FROM resident_query WHERE publication_id IN "
            f"({', '.join('?' * len(ids))}) GROUP BY publication_id", ids)}
    parsed = [(p, json.loads(p[6]), json.loads(p[7] or "[]")) for p in latest]
    clash = set()
    for _p, rows, _a in parsed:
        clash |= privacy.clashing(((r["member_id"], r["name"]) for r in rows), mask=mask)
    booklets = {}
    if clash:
        booklets = dict(f.rows(f"SELECT id, booklet_no FROM member WHERE id IN ({', '.join('?' * len(clash))})",
                               sorted(clash)))
    day = f.today
    slides = []
    for n, (p, rows, adjustments) in enumerate(parsed):
        pid, year, quarter, published_at, meeting_on, ends, _s, _a, bid, bname = p
        labels = privacy.labels(((r["member_id"], r["name"], booklets.get(r["member_id"], "")) for r in rows),
                                mask=mask)
        published_on = _local(published_at)
        ends = f._date(ends)
        end_text = f"{ends.month}月{ends.day}日" if ends.year == published_on.year else cn_date(ends)
        received, answered = counts.get(pid, (0, 0))
        meeting = (f'<div><dt>经支部党员大会核对</dt><dd>{cn_date(f._date(meeting_on))}</dd></div>'
                   if meeting_on else "")
        phone = (f'<p class="board-foot-line"><span class="board-foot-key">监督电话</span><strong class="board-phone">'
                 f'{E(str(settings["office_phone"]))}</strong></p>' if settings["office_phone"] else "")
        box = (f'<p class="board-foot-line"><span class="board-foot-key">意见箱</span><strong>'
               f'{E(str(settings["opinion_box"]))}</strong></p>' if settings["opinion_box"] else "")
        slides.append("".join((
            f'<section class="board-slide{" is-active" if n == 0 else ""}" data-slide="b{bid}" data-pub="{pid}" '
            f'aria-labelledby="board-title-{pid}"><header class="board-head"><div class="board-emblem" '
            f'aria-hidden="true">★</div><div class="board-head-main"><p class="board-org">{E(cname)}'
            f'<span class="board-org-sep" aria-hidden="true">·</span>{E(bname)}</p>'
            f'<h1 class="board-title" id="board-title-{pid}">党员积分公示 · {year}年{QUARTER[quarter]}</h1></div>'
            f'<dl class="board-head-dates"><div><dt>公示日期</dt><dd>{cn_date(published_on)}</dd></div>{meeting}</dl>'
            '</header><div class="board-body">',
            _pages(pid, rows, adjustments, labels, mask),
            '<div class="board-progress" aria-hidden="true"><span class="board-progress-bar"></span></div></div>'
            '<footer class="board-foot"><div class="board-foot-block board-foot-period"><p class="board-foot-label">'
            f'公示期</p><p class="board-foot-value">{cn_date(published_on)} 至 {end_text}</p>'
            f'<p class="board-foot-note">{"公示期内,欢迎监督" if day <= ends else "仍可提出疑问"}</p></div>'
            '<div class="board-foot-block board-foot-ask"><p class="board-foot-label">对积分有疑问?</p>'
            f'{phone}{box}<p class="board-foot-line"><a class="board-foot-link" href="/queries/new?pub={pid}">'
            '也可在社区办公室的电脑上提问。</a></p></div><div class="board-foot-block board-foot-counts">'
            '<p class="board-foot-label">群众疑问</p><p class="board-counts"><span class="board-count-item">'
            f'<strong class="board-count-num" data-count="received">{received}</strong><span>已收到</span></span>'
            f'<span class="board-count-item"><strong class="board-count-num" data-count="answered">{answered}</strong>'
            '<span>已答复</span></span></p></div><div class="board-foot-block board-foot-issuer">'
            f'<p class="board-foot-label">发布单位</p><p class="board-issuer">{E(cname)}{E(bname)}</p>'
            f'<p class="board-issued-on">{cn_date(published_on)}</p></div></footer></section>')))
    if not slides:
        slides.append(f'<section class="board-slide board-empty is-active" data-slide="empty"><p class="board-org">'
                      f'{E(cname)}</p><p class="board-empty-text">尚无公示。</p></section>')
    poll_url = (f"/board/poll?street={street_id}&amp;community={community_id}&amp;v={E(version)}"
                f"&amp;d={day.isoformat()}&amp;build=floor")
    rotate = max(5, int(settings["board_rotation_seconds"] or 20))
    return "".join((
        '<!doctype html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<title>公示栏 · {E(cname)}</title>\n<link rel="stylesheet" href="/static/board.css">\n'
        '<script src="/static/vendor/htmx-2.0.11.min.js" defer></script>\n'
        '<script src="/static/board.js" defer></script>\n</head>\n<body class="board">\n'
        f'<main class="board-main" id="main"><div id="board-live" class="board-live" hx-get="{poll_url}" '
        f'hx-trigger="every 10s" hx-swap="outerHTML" data-rotate-seconds="{rotate}">',
        "".join(slides),
        '</div></main>\n<div class="board-status" id="board-status" role="status"><span class="board-status-text">'
        '连接中断:显示最近一次公示的积分。正在重新连接…</span></div>\n</body>\n</html>'))


def board_cells(html: str) -> dict:
    """The figures a board shows (slides, names and year scores in order), to compare app and floor."""
    import re
    return {
        "slides": re.findall(r'data-slide="(b\d+)"', html),
        "pages": re.findall(r'data-page="(p\d+-\d+)"', html),
        "rows": re.findall(r'class="board-name">([^<]*)</th>.*?class="board-year">([^<]*)<', html, re.S),
        "counts": re.findall(r'data-count="(\w+)">(\d+)<', html),
    }


__all__ = ["board", "board_cells", "board_version", "poll"]
