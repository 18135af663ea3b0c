"""The scheme's edit form: the JSON document flattened into named text fields and back.

Field names: t-<type>-<key>, c-<category>-<key>, i<n>-<key> (the n-th indicator of the stored
document; its code never changes), new-<key> (an added indicator), th-<threshold>, w-<weight>,
rect-period. The form keeps what was typed, so a refused save shows the same text with its errors.
"""
from __future__ import annotations

import copy
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

from flask_babel import gettext as _

from ..scheme import CATEGORY_CODES, ROLES, SHORT_MAX, THRESHOLD_KEYS, TYPE_CODES

TYPE_NUMBERS = ("base", "basic_cap", "contribution_cap")
INDICATOR_TEXTS = ("zh", "en", "short_zh", "short_en", "unit", "notes_zh", "notes")
TEXT_LIMITS = {"notes": 2000, "notes_zh": 2000, **SHORT_MAX}
CAPS = ("month_cap", "quarter_cap", "year_cap")
BY_TYPE = ("points_by_type", "year_cap_by_type")
FLAGS = ("heavier", "veto", "retired")
INTEGER_THRESHOLDS = THRESHOLD_KEYS[2:]
CODE_RE = re.compile(r"^[A-Z][A-Z0-9]{0,7}$")


def number_text(value: Any) -> str:
    return "" if value is None else f"{Decimal(str(value)).normalize():f}"


def json_number(d: Decimal) -> int | float:
    """Whole numbers as ints, others as floats whose repr is the decimal typed (0.15, 0.5)."""
    return int(d) if d == d.to_integral_value() else float(str(d))


def to_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    f: dict[str, Any] = {}
    for t in data.get("types", []):
        for k in ("zh", "en"):
            f[f"t-{t['code']}-{k}"] = t.get(k, "")
        for k in TYPE_NUMBERS:
            f[f"t-{t['code']}-{k}"] = number_text(t.get(k))
    for c in data.get("categories", []):
        for k in ("zh", "en"):
            f[f"c-{c['code']}-{k}"] = c.get(k, "")
    for n, ind in enumerate(data.get("indicators", [])):
        p = f"i{n}-"
        for k in INDICATOR_TEXTS:
            f[p + k] = ind.get(k, "")
        f[p + "points"] = number_text(ind.get("points"))
        f[p + "points_options"] = ", ".join(number_text(v) for v in ind.get("points_options") or [])
        for k in CAPS:
            f[p + k] = number_text(ind.get(k))
        for k in BY_TYPE:
            for t in TYPE_CODES:
                f[f"{p}{k}-{t}"] = number_text((ind.get(k) or {}).get(t))
        applies = ind.get("applies_to") or list(TYPE_CODES)
        for t in TYPE_CODES:
            f[f"{p}applies-{t}"] = t in applies
        for k in FLAGS:
            f[p + k] = bool(ind.get(k))
        f[p + "role"] = ind.get("role") or ""
    for k in THRESHOLD_KEYS:
        f[f"th-{k}"] = number_text((data.get("grade_thresholds") or {}).get(k))
    for k, v in ((data.get("branch_index") or {}).get("weights") or {}).items():
        f[f"w-{k}"] = number_text(v)
    f["rect-period"] = number_text((data.get("rectification") or {}).get("period_months", 6))
    for t in TYPE_CODES:
        f[f"new-applies-{t}"] = True
    return f


def form_fields(form: Mapping[str, str], base: Mapping[str, Any]) -> dict[str, Any]:
    """What was submitted, in to_fields' shape (checkboxes are present only when ticked)."""
    f = {k: v for k, v in form.items() if not k.startswith("csrf")}
    for n, _ind in enumerate(base.get("indicators", [])):
        for t in TYPE_CODES:
            f[f"i{n}-applies-{t}"] = bool(form.get(f"i{n}-applies-{t}"))
        for k in FLAGS:
            f[f"i{n}-{k}"] = bool(form.get(f"i{n}-{k}"))
    for t in TYPE_CODES:
        f[f"new-applies-{t}"] = bool(form.get(f"new-applies-{t}"))
    return f


class _Reader:
    def __init__(self, fields: Mapping[str, Any]):
        self.fields = fields
        self.errors: dict[str, str] = {}

    def text(self, name: str, limit: int = 2000) -> str:
        value = str(self.fields.get(name) or "").strip()
        if len(value) > limit:
            self.errors[name] = _("At most %(n)d characters.", n=limit)
        return value

    def number(self, name: str, required: bool = True) -> int | float | None:
        raw = str(self.fields.get(name) or "").strip().replace("，", ",")
        if not raw:
            if required:
                self.errors[name] = _("Enter a number.")
            return None
        try:
            d = Decimal(raw)
        except InvalidOperation:
            self.errors[name] = _("“%(v)s” is not a number.", v=raw)
            return None
        if not d.is_finite() or abs(d) >= 10000 or d != d.quantize(Decimal("0.01")):
            self.errors[name] = _("A number below 10000 with at most two decimals.")
            return None
        return json_number(d)

    def numbers(self, name: str) -> list[int | float]:
        raw = str(self.fields.get(name) or "").replace("，", ",").replace("/", ",")
        out = []
        for part in (p.strip() for p in raw.split(",")):
            if not part:
                continue
            try:
                out.append(json_number(Decimal(part)))
            except InvalidOperation:
                self.errors[name] = _("Numbers separated by commas, e.g. 3, 5.")
                return []
        return out


def _indicator(r: _Reader, p: str, ind: dict[str, Any]) -> None:
    for k in INDICATOR_TEXTS:
        value = r.text(p + k, TEXT_LIMITS.get(k, 200))
        if value or k in ind:
            ind[k] = value
    if not ind.get("zh") and not ind.get("en"):
        r.errors[p + "zh"] = _("Give the indicator a name.")
    ind["points"] = r.number(p + "points")
    options = r.numbers(p + "points_options")
    if options:
        ind["points_options"] = options
    else:
        ind.pop("points_options", None)
    for k in CAPS:
        value = r.number(p + k, required=False)
        if value is None:
            ind.pop(k, None)
        else:
            ind[k] = value
    for k in BY_TYPE:
        values = {t: r.number(f"{p}{k}-{t}", required=False) for t in TYPE_CODES}
        values = {t: v for t, v in values.items() if v is not None}
        if values:
            ind[k] = values
        else:
            ind.pop(k, None)
    applies = [t for t in TYPE_CODES if r.fields.get(f"{p}applies-{t}")]
    if not applies:
        r.errors[p + "applies"] = _("Tick at least one type.")
    ind["applies_to"] = applies
    role = str(r.fields.get(p + "role") or "")
    if role and role not in ROLES:
        r.errors[p + "role"] = _("Unknown role.")
    if role:
        ind["role"] = role
    else:
        ind.pop("role", None)


def from_fields(fields: Mapping[str, Any], base: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The document the fields describe (a copy of ``base`` with every editable value replaced), and the
    problems found at each field. Scheme.from_dict then checks the rules of the whole."""
    data = copy.deepcopy(dict(base))
    r = _Reader(fields)
    for t in data.get("types", []):
        for k in ("zh", "en"):
            t[k] = r.text(f"t-{t['code']}-{k}", 100)
        for k in TYPE_NUMBERS:
            t[k] = r.number(f"t-{t['code']}-{k}")
    for c in data.get("categories", []):
        for k in ("zh", "en"):
            c[k] = r.text(f"c-{c['code']}-{k}", 100)
    codes = set()
    for n, ind in enumerate(data.get("indicators", [])):
        p = f"i{n}-"
        _indicator(r, p, ind)
        for k in FLAGS:
            if r.fields.get(p + k):
                ind[k] = True
            else:
                ind.pop(k, None)
        codes.add(ind["code"])
    new_code = str(fields.get("new-code") or "").strip().upper()
    if new_code:
        if not CODE_RE.match(new_code):
            r.errors["new-code"] = _("A letter, then up to 7 letters or digits (e.g. Z8).")
        elif new_code in codes:
            r.errors["new-code"] = _("The scheme already has an indicator %(code)s.", code=new_code)
        category = str(fields.get("new-category") or "")
        if category not in CATEGORY_CODES:
            r.errors["new-category"] = _("Choose a category.")
        ind = {"code": new_code, "category": category}
        _indicator(r, "new-", ind)
        data.setdefault("indicators", []).append(ind)
    th = data.setdefault("grade_thresholds", {})
    for k in THRESHOLD_KEYS:
        th[k] = r.number(f"th-{k}")
        if k in INTEGER_THRESHOLDS and th[k] is not None and not isinstance(th[k], int):
            r.errors[f"th-{k}"] = _("A whole number.")
    weights = (data.get("branch_index") or {}).get("weights") or {}
    for k in list(weights):
        weights[k] = r.number(f"w-{k}")
    period = r.number("rect-period")
    if period is not None and (not isinstance(period, int) or not 1 <= period <= 24):
        r.errors["rect-period"] = _("Whole months from 1 to 24.")
    data.setdefault("rectification", {})["period_months"] = period
    return data, r.errors
