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
from flask_wtf import FlaskForm
from wtforms import BooleanField

from ..fields import Note, Text
from ..scheme import CATEGORY_CODES, ROLES, SHORT_MAX, THRESHOLD_KEYS, TYPE_CODES, Path
from ..scheme_schema import CODE_PATTERN, INDICATOR_TEXT_MAX, NAME_MAX, NOTES_MAX

TYPE_NUMBERS = ("base", "basic_cap", "contribution_cap")
INDICATOR_TEXTS = ("zh", "en", "short_zh", "short_en", "unit", "notes_zh", "notes")
TEXT_LIMITS = {"notes": NOTES_MAX, "notes_zh": NOTES_MAX, **SHORT_MAX}
CAPS = ("month_cap", "quarter_cap", "year_cap")
BY_TYPE = ("points_by_type", "year_cap_by_type")
FLAGS = ("heavier", "veto", "retired")
INTEGER_THRESHOLDS = THRESHOLD_KEYS[2:]
CODE_RE = re.compile(CODE_PATTERN)


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


NUMBER_TYPED_MAX = 24     # what a number field holds as typed ("1,5" and "３" are read by _Reader.number)
REASON_MAX = 500


def _indicator_fields(p: str, with_flags: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in INDICATOR_TEXTS:
        limit = TEXT_LIMITS.get(k, INDICATOR_TEXT_MAX)
        out[p + k] = Note(max_length=limit) if k in ("notes", "notes_zh") else Text(max_length=limit)
    out[p + "points"] = Text(max_length=NUMBER_TYPED_MAX)
    out[p + "points_options"] = Text(max_length=INDICATOR_TEXT_MAX)
    for k in CAPS:
        out[p + k] = Text(max_length=NUMBER_TYPED_MAX)
    for k in BY_TYPE:
        for t in TYPE_CODES:
            out[f"{p}{k}-{t}"] = Text(max_length=NUMBER_TYPED_MAX)
    for t in TYPE_CODES:
        out[f"{p}applies-{t}"] = BooleanField()
    for k in FLAGS if with_flags else ():
        out[p + k] = BooleanField()
    out[p + "role"] = Text(max_length=24)
    return out


def edit_form(base: Mapping[str, Any]) -> type[FlaskForm]:
    """The edit form of ``base`` (a document), one field per name to_fields gives, the new indicator's and the
    reason: each value through the shared field types (control characters, lengths) before _Reader reads it."""
    fields: dict[str, Any] = {"reason": Text(max_length=REASON_MAX), "new-code": Text(max_length=16),
                              "new-category": Text(max_length=16), **_indicator_fields("new-", with_flags=False)}
    for t in base.get("types", []):
        fields.update({f"t-{t['code']}-{k}": Text(max_length=NAME_MAX) for k in ("zh", "en")})
        fields.update({f"t-{t['code']}-{k}": Text(max_length=NUMBER_TYPED_MAX) for k in TYPE_NUMBERS})
    for c in base.get("categories", []):
        fields.update({f"c-{c['code']}-{k}": Text(max_length=NAME_MAX) for k in ("zh", "en")})
    for n, _ind in enumerate(base.get("indicators", [])):
        fields.update(_indicator_fields(f"i{n}-", with_flags=True))
    numbers = [f"th-{k}" for k in THRESHOLD_KEYS] + [f"w-{k}" for k in (base.get("branch_index") or {}).get(
        "weights") or {}] + ["rect-period"]
    fields.update({name: Text(max_length=NUMBER_TYPED_MAX) for name in numbers})
    return type("SchemeEditForm", (FlaskForm,), fields)


def form_fields(form: FlaskForm) -> tuple[dict[str, Any], dict[str, str]]:
    """What was submitted, in to_fields' shape (a box is True when ticked), and each refused field's message."""
    fields = {f.name: bool(f.data) if isinstance(f, BooleanField) else (f.data or "") for f in form
              if f.name not in ("csrf_token", "reason")}
    return fields, {f.name: str(f.errors[0]) for f in form if f.errors and f.name != "csrf_token"}


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
        value = r.text(p + k, TEXT_LIMITS.get(k, INDICATOR_TEXT_MAX))
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
            t[k] = r.text(f"t-{t['code']}-{k}", NAME_MAX)
        for k in TYPE_NUMBERS:
            t[k] = r.number(f"t-{t['code']}-{k}")
    for c in data.get("categories", []):
        for k in ("zh", "en"):
            c[k] = r.text(f"c-{c['code']}-{k}", NAME_MAX)
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


def field_of(path: Path | None, base: Mapping[str, Any]) -> str | None:
    """The form field that holds the value at ``path`` of the document from_fields built on ``base`` (None when
    the form has no such field: the problem is listed above the form instead)."""
    path = tuple(path or ())
    try:
        match path:
            case ("types", int(n), "zh" | "en" | "base" | "basic_cap" | "contribution_cap" as key):
                return f"t-{base['types'][n]['code']}-{key}"
            case ("categories", int(n), "zh" | "en" as key):
                return f"c-{base['categories'][n]['code']}-{key}"
            case ("indicators", int(n), str(key), *rest):
                p = f"i{n}-" if n < len(base.get("indicators", [])) else "new-"
                if key in BY_TYPE and rest and rest[0] in TYPE_CODES:
                    return f"{p}{key}-{rest[0]}"
                if key in (*INDICATOR_TEXTS, *CAPS, "points", "points_options", "role") and (
                        not rest or key == "points_options"):
                    return p + key
                if key == "applies_to":
                    return p + "applies"
                if key in ("code", "category") and p == "new-":
                    return p + key
            case ("grade_thresholds", str(key)) if key in THRESHOLD_KEYS:
                return f"th-{key}"
            case ("branch_index", "weights", str(key)):
                return f"w-{key}"
            case ("rectification", "period_months"):
                return "rect-period"
    except (KeyError, IndexError, TypeError):
        return None
    return None
