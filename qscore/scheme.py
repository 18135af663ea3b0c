"""The scheme of the year as typed, validated objects (parsed from the JSON of scheme.default.json).

Rules refer to indicators by flags and roles (veto, heavier, attendance, dues_paid, absence,
dues_arrears), never by code, so that an edited scheme keeps working.
"""
from __future__ import annotations

import copy
import functools
import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any

TYPE_CODES = ("A", "B", "C", "D")
CATEGORY_CODES = ("J", "Z", "K")  # basic requirements, playing a role, deductions
ROLES = ("attendance", "dues_paid", "absence", "dues_arrears")
# A quick button's label fits a roster row: "按时交党费", "Dues in arrears".
SHORT_MAX = {"short_zh": 8, "short_en": 24}
THRESHOLD_KEYS = (
    "advanced_min", "qualified_min", "advanced_min_quarters_with_contribution",
    "rectify_streak_months", "warning_streak_months", "min_months_on_roll_for_grade",
)


class SchemeError(ValueError):
    """An invalid scheme; .problems lists every problem found, in English (translated for display)."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def _dec(value: Any, where: str, problems: list[str]) -> Decimal:
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        problems.append(f"{where}: not a number")
        return Decimal(0)
    if not d.is_finite():
        problems.append(f"{where}: not a number")
        return Decimal(0)
    return d


@dataclass(frozen=True)
class TypeDef:
    code: str
    zh: str
    en: str
    base: Decimal
    basic_cap: Decimal
    contribution_cap: Decimal


@dataclass(frozen=True)
class CategoryDef:
    code: str
    zh: str
    en: str
    sign: str


@dataclass(frozen=True)
class Indicator:
    code: str
    category: str
    zh: str
    en: str
    points: Decimal
    unit: str = ""
    points_by_type: dict[str, Decimal] = field(default_factory=dict)
    points_options: tuple[Decimal, ...] = ()
    month_cap: Decimal | None = None
    quarter_cap: Decimal | None = None
    year_cap: Decimal | None = None
    year_cap_by_type: dict[str, Decimal] = field(default_factory=dict)
    applies_to: tuple[str, ...] = TYPE_CODES
    role: str | None = None
    heavier: bool = False
    veto: bool = False
    retired: bool = False
    notes: str = ""
    notes_zh: str = ""
    short_zh: str = ""  # a button label: 2-6 characters ("出席"); empty means the full name
    short_en: str = ""  # a button label: 1-3 words ("Attended")

    @property
    def is_hours(self) -> bool:
        """Z3-like: the entry records hours as its quantity; points are hours x points."""
        return self.unit == "hour"

    def applies(self, type_code: str) -> bool:
        return type_code in self.applies_to and not self.retired

    def points_for(self, type_code: str) -> Decimal:
        return self.points_by_type.get(type_code, self.points)

    def allowed_points(self, type_code: str) -> tuple[Decimal, ...]:
        """The values a secretary may record for a member of this type."""
        if self.points_options:
            return self.points_options
        return (self.points_for(type_code),)

    def year_cap_for(self, type_code: str) -> Decimal | None:
        return self.year_cap_by_type.get(type_code, self.year_cap)

    @property
    def needs_note(self) -> bool:
        """Deductions and vetoes must say why."""
        return self.category == "K"


@dataclass(frozen=True)
class Thresholds:
    advanced_min: Decimal
    qualified_min: Decimal
    advanced_min_quarters_with_contribution: int
    rectify_streak_months: int
    warning_streak_months: int
    min_months_on_roll_for_grade: int


@dataclass(frozen=True)
class Scheme:
    types: dict[str, TypeDef]
    categories: dict[str, CategoryDef]
    indicators: dict[str, Indicator]
    thresholds: Thresholds
    branch_index_weights: dict[str, Decimal]
    rectification_period_months: int
    data: dict[str, Any]

    def indicators_with(self, *, role: str | None = None, flag: str | None = None) -> list[Indicator]:
        out = []
        for ind in self.indicators.values():
            if role is not None and ind.role != role:
                continue
            if flag is not None and not getattr(ind, flag):
                continue
            out.append(ind)
        return out

    def codes_with(self, *, role: str | None = None, flag: str | None = None) -> frozenset[str]:
        return frozenset(i.code for i in self.indicators_with(role=role, flag=flag))

    def applicable(self, type_code: str) -> list[Indicator]:
        return [i for i in self.indicators.values() if i.applies(type_code)]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Scheme":
        problems: list[str] = []
        if not isinstance(data, dict):
            raise SchemeError(["the scheme must be a JSON object"])
        types: dict[str, TypeDef] = {}
        for t in data.get("types") or []:
            code = str(t.get("code", ""))
            if code not in TYPE_CODES:
                problems.append(f"type {code!r}: the code must be one of A, B, C, D")
                continue
            td = TypeDef(
                code, str(t.get("zh", "")), str(t.get("en", "")),
                _dec(t.get("base"), f"type {code} base", problems),
                _dec(t.get("basic_cap"), f"type {code} basic_cap", problems),
                _dec(t.get("contribution_cap"), f"type {code} contribution_cap", problems),
            )
            if td.base < 0:
                problems.append(f"type {code}: the base must not be negative")
            if td.basic_cap <= 0 or td.contribution_cap <= 0:
                problems.append(f"type {code}: caps must be positive")
            types[code] = td
        if sorted(types) != list(TYPE_CODES):
            problems.append("the scheme must define the four types A, B, C and D")

        categories: dict[str, CategoryDef] = {}
        for c in data.get("categories") or []:
            code = str(c.get("code", ""))
            categories[code] = CategoryDef(code, str(c.get("zh", "")), str(c.get("en", "")), str(c.get("sign", "")))
        if sorted(categories) != sorted(CATEGORY_CODES):
            problems.append("the scheme must keep the three categories J, Z and K")

        indicators: dict[str, Indicator] = {}
        for raw in data.get("indicators") or []:
            ind = _parse_indicator(raw, problems)
            if ind is None:
                continue
            if ind.code in indicators:
                problems.append(f"indicator {ind.code}: the code is used twice")
            indicators[ind.code] = ind
        if not indicators:
            problems.append("the scheme has no indicators")

        th = data.get("grade_thresholds") or {}
        missing = [k for k in THRESHOLD_KEYS if k not in th]
        if missing:
            problems.append("grade thresholds missing: " + ", ".join(missing))
            th = {**{k: 0 for k in THRESHOLD_KEYS}, **th}
        thresholds = Thresholds(
            _dec(th["advanced_min"], "advanced_min", problems),
            _dec(th["qualified_min"], "qualified_min", problems),
            *(_int(th[k], k, problems) for k in THRESHOLD_KEYS[2:]),
        )
        if not thresholds.qualified_min < thresholds.advanced_min:
            problems.append("thresholds: qualified_min must be below advanced_min")
        if thresholds.advanced_min_quarters_with_contribution not in range(0, 5):
            problems.append("thresholds: advanced_min_quarters_with_contribution must be 0 to 4")
        for k in ("rectify_streak_months", "warning_streak_months", "min_months_on_roll_for_grade"):
            if getattr(thresholds, k) not in range(1, 13):
                problems.append(f"thresholds: {k} must be 1 to 12")

        weights = {
            k: _dec(v, f"branch index weight {k}", problems)
            for k, v in ((data.get("branch_index") or {}).get("weights") or {}).items()
        }
        if weights and sum(weights.values()) != 1:
            problems.append("branch index weights must add up to 1")
        period = _int((data.get("rectification") or {}).get("period_months", 6), "rectification period", problems)
        if problems:
            raise SchemeError(problems)
        return cls(types, categories, indicators, thresholds, weights, period, copy.deepcopy(data))


def _int(value: Any, where: str, problems: list[str]) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        problems.append(f"{where}: not a whole number")
        return 0


def _parse_indicator(raw: dict[str, Any], problems: list[str]) -> Indicator | None:
    code = str(raw.get("code", "")).strip()
    if not code or len(code) > 8:
        problems.append(f"indicator {code!r}: a code of 1 to 8 characters is required")
        return None
    where = f"indicator {code}"
    category = str(raw.get("category", ""))
    if category not in CATEGORY_CODES:
        problems.append(f"{where}: unknown category {category!r}")
    points = _dec(raw.get("points", 0), f"{where} points", problems)
    by_type = {k: _dec(v, f"{where} points_by_type", problems) for k, v in (raw.get("points_by_type") or {}).items()}
    options = tuple(_dec(v, f"{where} points_options", problems) for v in raw.get("points_options") or ())
    caps: dict[str, Decimal | None] = {}
    for key in ("month_cap", "quarter_cap", "year_cap"):
        caps[key] = _dec(raw[key], f"{where} {key}", problems) if raw.get(key) is not None else None
        if caps[key] is not None and caps[key] <= 0:
            problems.append(f"{where}: {key} must be positive")
    cap_by_type = {k: _dec(v, f"{where} year_cap_by_type", problems) for k, v in (raw.get("year_cap_by_type") or {}).items()}
    if any(v <= 0 for v in cap_by_type.values()):
        problems.append(f"{where}: year caps must be positive")
    applies = tuple(t for t in TYPE_CODES if t in (raw.get("applies_to") or TYPE_CODES))
    role = raw.get("role") or None
    if role is not None and role not in ROLES:
        problems.append(f"{where}: unknown role {role!r}")
    ind = Indicator(
        code=code, category=category, zh=str(raw.get("zh", "")), en=str(raw.get("en", "")),
        points=points, unit=str(raw.get("unit", "")), points_by_type=by_type, points_options=options,
        month_cap=caps["month_cap"], quarter_cap=caps["quarter_cap"], year_cap=caps["year_cap"],
        year_cap_by_type=cap_by_type, applies_to=applies, role=role,
        heavier=bool(raw.get("heavier")), veto=bool(raw.get("veto")), retired=bool(raw.get("retired")),
        **_texts(code, raw),
    )
    if len(ind.short_zh) > SHORT_MAX["short_zh"] or len(ind.short_en) > SHORT_MAX["short_en"]:
        problems.append(f"{where}: a button label of at most {SHORT_MAX['short_zh']} Chinese characters or "
                        f"{SHORT_MAX['short_en']} letters")
    values = [points, *by_type.values(), *options]
    if ind.veto:
        if any(v != 0 for v in values):
            problems.append(f"{where}: the veto's points must be 0")
    elif category == "K":
        if any(v >= 0 for v in values):
            problems.append(f"{where}: deductions must be negative")
    elif category in ("J", "Z"):
        if any(v <= 0 for v in values):
            problems.append(f"{where}: points must be positive")
        if ind.is_hours and options:
            problems.append(f"{where}: an hours indicator cannot have point options")
    if options and points not in options:
        problems.append(f"{where}: the default points must be one of the options")
    return ind


def _texts(code: str, raw: dict[str, Any]) -> dict[str, str]:
    """Notes and button labels; a scheme stored before they existed borrows the shipped default's
    where its own text is the default's (same name, same notes), so that years copied earlier read right."""
    texts = {k: str(raw.get(k) or "").strip() for k in ("notes", "notes_zh", "short_zh", "short_en")}
    shipped = _default_texts().get(code)
    if shipped is None:
        return texts
    if "notes_zh" not in raw and texts["notes"] and texts["notes"] == shipped["notes"]:
        texts["notes_zh"] = shipped["notes_zh"]
    if "short_zh" not in raw and str(raw.get("zh", "")) == shipped["zh"]:
        texts["short_zh"] = shipped["short_zh"]
    if "short_en" not in raw and str(raw.get("en", "")) == shipped["en"]:
        texts["short_en"] = shipped["short_en"]
    return texts


@functools.cache
def _default_texts() -> dict[str, dict[str, str]]:
    return {str(i["code"]): {k: str(i.get(k) or "") for k in ("zh", "en", "notes", "notes_zh", "short_zh", "short_en")}
            for i in default_scheme_data()["indicators"]}


def default_scheme_data() -> dict[str, Any]:
    """The shipped default scheme (a copy of shared/scheme.default.json)."""
    text = resources.files("qscore").joinpath("scheme_default.json").read_text(encoding="utf-8")
    return json.loads(text)
