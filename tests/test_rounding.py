"""One rounding rule: every figure is the exact value rounded half up (ties away from zero) to one decimal.

The pages a secretary compares must agree, every formatter rounds the same way, and no other rounding
creeps back into qscore/ (a source scan).
"""
from __future__ import annotations

import ast
import re
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from bench.floors import pts as bench_pts
from qscore import public_snapshot, templating
from qscore.publication import _one as snapshot_text
from qscore.standings import BranchSummary
from qscore.stats import format as stats_format

from .conftest import make_member

HX = {"HX-Request": "true"}
QSCORE = Path(__file__).resolve().parent.parent / "qscore"


# --- the pages a secretary compares -----------------------------------------------------------

@pytest.fixture
def two_members(app, org):
    """Two type 3 members (base 60): one with 0.1 point more (0.2 hours of volunteering), an average of 60.05."""
    from qscore.db import db

    with app.app_context():
        plain = make_member(org.branch_id, "李娜", "C").id
        busy = make_member(org.branch_id, "王芳", "C").id
        db.session.commit()
    return plain, busy


def _text(resp) -> str:
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def test_an_average_of_60_05_reads_60_1_on_roster_home_and_statistics(app, client, auth, org, two_members):
    _plain, busy = two_members
    auth.login("bs")
    resp = client.post(f"/branches/{org.branch_id}/members/{busy}/entries", headers=HX,
                       data={"indicator": "Z3", "value": "0.2", "earned_on": "2026-05-18", "note": ""})
    assert resp.status_code == 200  # 0.2 hours x 0.5 = 0.1 point: scores 60.0 and 60.1

    roster = _text(client.get(f"/branches/{org.branch_id}/roster"))
    assert re.search(r'id="branch-average">([^<]*)<', roster).group(1) == "60.1"

    home = _text(client.get("/"))
    assert re.search(r'<div class="stat-value">([^<]*)</div>\s*<div class="stat-label">平均累计得分</div>',
                     home).group(1) == "60.1"
    row = re.search(rf'<tr id="branch-{org.branch_id}-row">(.*?)</tr>', home, re.S).group(1)
    assert re.findall(r'<td class="num">([^<]*)</td>', row)[1] == "60.1"  # members, then the average

    stats = _text(client.get("/stats?period=2026"))
    all_row = re.search(r"<tfoot>(.*?)</tfoot>", stats, re.S).group(1)
    assert re.findall(r"<a [^>]*>([^<]*)</a>", all_row) == ["2", "60.1"]  # members, average score


def test_branch_summary_average_is_the_exact_mean_rounded_once():
    assert BranchSummary(members=2, score_sum=Decimal("120.1")).average == Decimal("60.1")
    assert BranchSummary(members=3, score_sum=Decimal("180.1")).average == Decimal("60.0")   # 60.0333…
    assert BranchSummary(members=3, score_sum=Decimal("180.2")).average == Decimal("60.1")   # 60.0666…
    assert BranchSummary(members=0).average is None


# --- every formatter --------------------------------------------------------------------------

def _signless(text: str) -> str:
    return text.replace("\u2212", "-").removeprefix("+")


FORMATTERS = {
    "templating.points": templating.points,
    "templating.signed": templating.signed,
    "stats num": stats_format.num,
    "stats one": stats_format.one,
    "board signed_points": public_snapshot.signed_points,
    "board plain_points": public_snapshot.plain_points,
    "publication snapshot": snapshot_text,
    "bench pts": bench_pts,
}


@pytest.mark.parametrize("name", FORMATTERS)
@pytest.mark.parametrize(("value", "shown"), [
    (Decimal("2.25"), "2.3"), (Decimal("-2.25"), "-2.3"),      # half-even would say 2.2 and -2.2
    (Decimal("60.05"), "60.1"), (Decimal("-0.45"), "-0.5"),
    (Decimal("0.05"), "0.1"), (Decimal("-0.05"), "-0.1"),
    (Decimal("2.24999"), "2.2"), (Decimal("-0.04"), "0"),      # never a "-0"
])
def test_each_formatter_rounds_ties_away_from_zero(name, value, shown):
    text = _signless(FORMATTERS[name](value))
    assert text.removesuffix(".0") == shown


@pytest.mark.parametrize("value", ["0.15", 0.15, Fraction(3, 20)])
def test_a_figure_given_as_text_a_float_or_a_fraction_rounds_as_it_reads(value):
    # 0.15 as a float is 0.1499999…: shown as the decimal it prints as, the tie goes up.
    assert templating.points(value) == "0.2"
    assert templating.rounded(value) == Decimal("0.2")


def test_formatting_is_kept():
    assert (templating.points(Decimal("3.0")), templating.signed(Decimal(3)), templating.signed(0)) == ("3", "+3", "0")
    assert (stats_format.one(Decimal(66)), stats_format.num(Decimal("66.0")), stats_format.one(None)) == (
        "66.0", "66", "—")
    assert (public_snapshot.signed_points("-2.0"), public_snapshot.plain_points("-2.5")) == ("\u22122", "\u22122.5")
    assert (snapshot_text(Decimal("5")), snapshot_text(Decimal("-1.25"))) == ("5.0", "-1.3")


# --- no other rounding under qscore/ ----------------------------------------------------------

# Where a rounding-looking call is not the rounding of a figure. Each entry is (file, the call's exact text).
ALLOWED = {
    # Checks that a typed value has at most one (two) decimals: they compare, never round what is stored.
    ("fields.py", 'value.quantize(Decimal("0.1"))'),
    ("fields.py", 'value.quantize(Decimal("0.01"))'),  # amount_of: an exact check of the fen
    ("admin/scheme_form.py", 'd.quantize(Decimal("0.01"))'),
    # A month's dues paid, in yuan: every line is exact to the fen (fields.amount_of refuses more), so a sum
    # of them is too and .2f only writes the fen out ("5" as "5.00"), never rounds.
    ("dues_pages/__init__.py", "{c.paid:.2f}"),
    # How many demo members hold volunteer posts: a head count, not a figure.
    ("demo/service.py", "round(ratio * len(roll))"),
    # Seconds the demo took to load, printed by the command line.
    ("cli.py", "{time.perf_counter() - started:.1f}"),
}
FIXED_DECIMALS = re.compile(r"\.\d+[fF%]")


def _is_half_up(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == "ROUND_HALF_UP") or (
        isinstance(node, ast.Attribute) and node.attr == "ROUND_HALF_UP")


def roundings(source: str) -> list[str]:
    """The calls and formats in a module that round a number by a rule other than round_half_up."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            how = [k.value for k in node.keywords if k.arg == "rounding"] + node.args[1:2]
            if (isinstance(func, ast.Name) and func.id == "round") or (
                    isinstance(func, ast.Attribute) and func.attr == "quantize" and not any(map(_is_half_up, how))):
                found.append(ast.get_source_segment(source, node))
        elif isinstance(node, ast.FormattedValue) and node.format_spec is not None:
            spec = "".join(p.value for p in node.format_spec.values if isinstance(p, ast.Constant))
            if FIXED_DECIMALS.search(spec):  # "{x:.1f}" rounds a Decimal half-even
                found.append(f"{{{ast.unparse(node.value)}:{spec}}}")
    return found


def test_scan_finds_what_it_forbids():
    src = ('a = x.quantize(Decimal("0.1"))\nb = x.quantize(Q, rounding=ROUND_HALF_UP)\n'
           'c = round(y, 1)\nd = f"{z:.1f}"\ne = x.quantize(Q, decimal.ROUND_HALF_UP)\n')
    assert roundings(src) == ['x.quantize(Decimal("0.1"))', "round(y, 1)", "{z:.1f}"]


def test_no_rounding_outside_the_scoring_rule():
    scoring = {QSCORE / "scoring"}  # the one home of the scoring rules, rounding.py included
    offenders = []
    for path in sorted(QSCORE.rglob("*.py")):
        if path in scoring or scoring & set(path.parents):
            continue
        rel = path.relative_to(QSCORE).as_posix()
        for text in roundings(path.read_text(encoding="utf-8")):
            if (rel, text) not in ALLOWED:
                offenders.append(f"{rel}: {text}")
    assert offenders == [], "round with qscore.scoring.round_half_up (templating.rounded for text)"
