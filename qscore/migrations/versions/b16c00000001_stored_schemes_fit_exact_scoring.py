"""stored schemes fit the scoring's integers: a check, no change to the schema

qscore scores in integers (qscore/scoring/compiled.py): a type's or an indicator's figure in hundredths
of a point, caps above 0 and at most 1000, and points in tenths (the ledger stores tenths, so an option
of 0.25 was recorded as 0.3). Scheme.from_dict now refuses anything else, so a stored version that
breaks the rule could no longer be read. This upgrade reads every stored version and stops, listing
each figure to correct, before any page could fail on one. Nothing is changed: a scheme is a record.
The rule is written out here (not imported) so that this check stays what it was when it was written.

Revision ID: b16c00000001
Revises: a19b00000003
Create Date: 2026-12-07 10:00:00

"""
import json
from decimal import Decimal, InvalidOperation

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b16c00000001'
down_revision = 'a19b00000003'
branch_labels = None
depends_on = None

CAP_MAX = 1000
CAPS = ("month_cap", "quarter_cap", "year_cap")


def _decimal(value):
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return d if d.is_finite() else None


def _places_over(d, places):
    return 10 ** places % d.as_integer_ratio()[1] != 0


def offending_figures(data):
    """(path, value, what is wrong) for each figure of one stored scheme that the integers cannot hold."""
    out = []

    def figure(path, value, *, cap=False, places=2):
        d = _decimal(value)
        if d is None:
            return  # not a number: from_dict has always refused it, so no stored version holds one
        if _places_over(d, places):
            out.append((path, value, f"more than {places} decimal place{'s' if places > 1 else ''}"))
        if cap and not 0 < d <= CAP_MAX:
            out.append((path, value, f"a cap must be more than 0 and at most {CAP_MAX}"))

    for n, t in enumerate(data.get("types") or []):
        figure(f"types[{n}].base", t.get("base"))
        figure(f"types[{n}].basic_cap", t.get("basic_cap"), cap=True)
        figure(f"types[{n}].contribution_cap", t.get("contribution_cap"), cap=True)
    for n, ind in enumerate(data.get("indicators") or []):
        at = f"indicators[{n}]"
        for key in CAPS:
            if ind.get(key) is not None:
                figure(f"{at}.{key}", ind[key], cap=True)
        for t, v in (ind.get("year_cap_by_type") or {}).items():
            figure(f"{at}.year_cap_by_type.{t}", v, cap=True)
        places = 2 if ind.get("unit") == "hour" else 1  # an hours indicator's points are a rate per hour
        figure(f"{at}.points", ind.get("points", 0), places=places)
        for t, v in (ind.get("points_by_type") or {}).items():
            figure(f"{at}.points_by_type.{t}", v, places=places)
        for k, v in enumerate(ind.get("points_options") or ()):
            figure(f"{at}.points_options[{k}]", v, places=places)
    return out


def upgrade():
    rows = op.get_bind().execute(sa.text("SELECT year, version, data FROM scheme_version ORDER BY year, version"))
    lines = []
    for year, version, data in rows:
        if isinstance(data, str):  # SQLite hands JSON back as text
            data = json.loads(data)
        for path, value, what in offending_figures(data if isinstance(data, dict) else {}):
            lines.append(f"  {year} v{version}: {path} = {value}: {what}")
    if lines:
        raise RuntimeError(
            "升级已停止：下列已保存的积分方案中的数值超出了 qscore 能精确计算的范围（数值最多 2 位小数，分值最多 1 位小数，"
            "上限须大于 0 且不超过 1000）。请改正后再升级：尚未公示的年度可用升级前的 qscore 在方案编辑页修改，"
            "其他版本须在 scheme_version 表中修改（分值改为台账实际记录的值，例如 0.25 记为 0.3）。\n"
            "Upgrade stopped: these stored schemes hold figures qscore cannot score exactly (figures take at most 2 "
            "decimals, points at most 1, a cap more than 0 and at most 1000). Correct them, then upgrade again: a "
            "year with nothing published in the scheme editor of the qscore you are upgrading from, any other version "
            "in the scheme_version table (points as the ledger recorded them: an option of 0.25 was recorded as "
            "0.3).\n" + "\n".join(lines))


def downgrade():
    pass  # a check only: nothing to undo
