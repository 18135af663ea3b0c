"""The scheme of the year as typed, validated objects (parsed from the JSON of scheme.default.json).

Rules refer to indicators by flags and roles (veto, heavier, attendance, dues_paid, absence,
dues_arrears), never by code, so that an edited scheme keeps working.
"""
from __future__ import annotations

import copy
import functools
import json
import re
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


Path = tuple[str | int, ...]
_KEY_RE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")  # a key shown as .name in a path; others are quoted


def N_(s: str) -> str:
    """Marks a string for extraction by Babel; Problem.text translates it when it is shown."""
    return s


def path_text(path: Path | None) -> str:
    """A path in the file as a programmer writes it: indicators[3].code, branch_index.weights["a b"]."""
    out = ""
    for k in path or ():
        if isinstance(k, int):
            out += f"[{k}]"
        elif _KEY_RE.fullmatch(k):
            out += f".{k}" if out else k
        else:  # a key that is not a plain name is quoted (and a very long one cut)
            out += "[" + json.dumps(k if len(k) <= 40 else k[:40] + "…", ensure_ascii=False) + "]"
    return out


@dataclass(frozen=True)
class Problem:
    """One problem of a scheme: where it is in the document (None: the file as a whole) and what is wrong, as
    an English message with %(name)s parameters that the UI translates when it shows it."""

    path: Path | None
    message: str
    params: dict[str, Any] = field(default_factory=dict)

    def text(self, gettext=None) -> str:
        """The message alone, in the language of ``gettext`` (English without one)."""
        if gettext is None:
            return self.message % self.params if self.params else self.message
        return gettext(self.message, **self.params)

    def __str__(self) -> str:
        if self.path is None:
            return self.text()
        return f"{path_text(self.path) or '(the whole file)'}: {self.text()}"


class SchemeError(ValueError):
    """An invalid scheme; .problems lists every problem found (Problem: a path and a translatable message)."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(map(str, problems)))
        self.problems = problems


# What the scoring's integers hold (qscore/scoring/compiled.py): figures in hundredths, caps up to 1000, and
# points in tenths, because the ledger stores tenths (Numeric(7, 1)) and would round a finer option silently.
CAP_MAX = 1000
FIGURE_PLACES = N_("at most 2 decimal places (scores are computed in hundredths of a point)")
POINTS_PLACES = N_("at most 1 decimal place (the ledger records tenths of a point)")


def _fits(value: Decimal, places: int) -> bool:
    """Whether ``value`` has at most ``places`` decimals (exactly, whatever its size or how it is written)."""
    return 10 ** places % value.as_integer_ratio()[1] == 0


def _check_figure(value: Decimal, where: Path, problems: list[Problem], *, cap: bool = False) -> None:
    """A type's or an indicator's figure: at most 2 decimals; a cap also at most CAP_MAX ("positive" is checked apart)."""
    if not _fits(value, 2):
        problems.append(Problem(where, FIGURE_PLACES))
    if cap and value > CAP_MAX:
        problems.append(Problem(where, N_("must be more than %(min)s and at most %(max)s"), {"min": 0, "max": CAP_MAX}))


def _dec(value: Any, where: Path, problems: list[Problem]) -> Decimal:
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        problems.append(Problem(where, N_("must be a number")))
        return Decimal(0)
    if not d.is_finite():
        problems.append(Problem(where, N_("must be a number")))
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


@dataclass(frozen=True, eq=False)  # identity: compiled(scheme) caches per object (qscore/scoring/compiled.py)
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
        problems: list[Problem] = []
        if not isinstance(data, dict):
            raise SchemeError([Problem((), N_("must be an object {…}"))])
        types: dict[str, TypeDef] = {}
        for n, t in enumerate(data.get("types") or []):
            code = str(t.get("code", ""))
            if code not in TYPE_CODES:
                problems.append(Problem(("types", n, "code"), N_("must be one of: %(values)s"),
                                        {"values": ", ".join(TYPE_CODES)}))
                continue
            td = TypeDef(
                code, str(t.get("zh", "")), str(t.get("en", "")),
                _dec(t.get("base"), ("types", n, "base"), problems),
                _dec(t.get("basic_cap"), ("types", n, "basic_cap"), problems),
                _dec(t.get("contribution_cap"), ("types", n, "contribution_cap"), problems),
            )
            if td.base < 0:
                problems.append(Problem(("types", n, "base"), N_("must not be negative")))
            _check_figure(td.base, ("types", n, "base"), problems)
            for key in ("basic_cap", "contribution_cap"):
                if getattr(td, key) <= 0:
                    problems.append(Problem(("types", n, key), N_("must be positive")))
                _check_figure(getattr(td, key), ("types", n, key), problems, cap=True)
            types[code] = td
        if sorted(types) != list(TYPE_CODES):
            problems.append(Problem(("types",), N_("must define the four types A, B, C and D, one each")))

        categories: dict[str, CategoryDef] = {}
        for c in data.get("categories") or []:
            code = str(c.get("code", ""))
            categories[code] = CategoryDef(code, str(c.get("zh", "")), str(c.get("en", "")), str(c.get("sign", "")))
        if sorted(categories) != sorted(CATEGORY_CODES):
            problems.append(Problem(("categories",), N_("must keep the three categories J, Z and K")))

        indicators: dict[str, Indicator] = {}
        for n, raw in enumerate(data.get("indicators") or []):
            ind = _parse_indicator(raw, ("indicators", n), problems)
            if ind is None:
                continue
            if ind.code in indicators:
                problems.append(Problem(("indicators", n, "code"), N_("the code %(code)s is used by another indicator"),
                                        {"code": ind.code}))
            indicators[ind.code] = ind
        if not indicators:
            problems.append(Problem(("indicators",), N_("must not be empty")))

        th = data.get("grade_thresholds") or {}
        missing = [k for k in THRESHOLD_KEYS if k not in th]
        problems += [Problem(("grade_thresholds", k), N_("is missing")) for k in missing]
        if missing:
            th = {**{k: 0 for k in THRESHOLD_KEYS}, **th}
        thresholds = Thresholds(
            _dec(th["advanced_min"], ("grade_thresholds", "advanced_min"), problems),
            _dec(th["qualified_min"], ("grade_thresholds", "qualified_min"), problems),
            *(_int(th[k], ("grade_thresholds", k), problems) for k in THRESHOLD_KEYS[2:]),
        )
        if not thresholds.qualified_min < thresholds.advanced_min:
            problems.append(Problem(("grade_thresholds", "qualified_min"), N_("must be below advanced_min (%(a)s)"),
                                    {"a": f"{thresholds.advanced_min.normalize():f}"}))
        bounds = {"advanced_min_quarters_with_contribution": (0, 4), "rectify_streak_months": (1, 12),
                  "warning_streak_months": (1, 12), "min_months_on_roll_for_grade": (1, 12)}
        for k, (low, high) in bounds.items():
            if getattr(thresholds, k) not in range(low, high + 1):
                problems.append(Problem(("grade_thresholds", k), N_("must be a whole number from %(min)s to %(max)s"),
                                        {"min": low, "max": high}))

        weights = {
            k: _dec(v, ("branch_index", "weights", k), problems)
            for k, v in ((data.get("branch_index") or {}).get("weights") or {}).items()
        }
        if weights and sum(weights.values()) != 1:
            problems.append(Problem(("branch_index", "weights"), N_("the weights must add up to 1")))
        period = _int((data.get("rectification") or {}).get("period_months", 6), ("rectification", "period_months"),
                      problems)
        if problems:
            raise SchemeError(problems)
        return cls(types, categories, indicators, thresholds, weights, period, copy.deepcopy(data))


def _int(value: Any, where: Path, problems: list[Problem]) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        problems.append(Problem(where, N_("must be a whole number")))
        return 0


def _parse_indicator(raw: dict[str, Any], at: Path, problems: list[Problem]) -> Indicator | None:
    code = str(raw.get("code", "")).strip()
    if not code or len(code) > 8:
        problems.append(Problem((*at, "code"),
                                N_("a capital letter, then up to 7 capital letters or digits (e.g. Z8)")))
        return None
    category = str(raw.get("category", ""))
    if category not in CATEGORY_CODES:
        problems.append(Problem((*at, "category"), N_("must be one of: %(values)s"),
                                {"values": ", ".join(CATEGORY_CODES)}))
    points = _dec(raw.get("points", 0), (*at, "points"), problems)
    by_type = {k: _dec(v, (*at, "points_by_type", k), problems) for k, v in (raw.get("points_by_type") or {}).items()}
    options = tuple(_dec(v, (*at, "points_options", n), problems)
                    for n, v in enumerate(raw.get("points_options") or ()))
    caps: dict[str, Decimal | None] = {}
    for key in ("month_cap", "quarter_cap", "year_cap"):
        caps[key] = _dec(raw[key], (*at, key), problems) if raw.get(key) is not None else None
        if caps[key] is not None and caps[key] <= 0:
            problems.append(Problem((*at, key), N_("must be positive")))
        if caps[key] is not None:
            _check_figure(caps[key], (*at, key), problems, cap=True)
    cap_by_type = {k: _dec(v, (*at, "year_cap_by_type", k), problems)
                   for k, v in (raw.get("year_cap_by_type") or {}).items()}
    for k, v in cap_by_type.items():
        if v <= 0:
            problems.append(Problem((*at, "year_cap_by_type", k), N_("must be positive")))
        _check_figure(v, (*at, "year_cap_by_type", k), problems, cap=True)
    applies = tuple(t for t in TYPE_CODES if t in (raw.get("applies_to") or TYPE_CODES))
    role = raw.get("role") or None
    if role is not None and role not in ROLES:
        problems.append(Problem((*at, "role"), N_("must be one of: %(values)s"), {"values": ", ".join(ROLES)}))
    ind = Indicator(
        code=code, category=category, zh=str(raw.get("zh", "")), en=str(raw.get("en", "")),
        points=points, unit=str(raw.get("unit", "")), points_by_type=by_type, points_options=options,
        month_cap=caps["month_cap"], quarter_cap=caps["quarter_cap"], year_cap=caps["year_cap"],
        year_cap_by_type=cap_by_type, applies_to=applies, role=role,
        heavier=bool(raw.get("heavier")), veto=bool(raw.get("veto")), retired=bool(raw.get("retired")),
        **_texts(code, raw),
    )
    for key, limit in SHORT_MAX.items():
        if len(getattr(ind, key)) > limit:
            problems.append(Problem((*at, key), N_("at most %(n)d characters"), {"n": limit}))
    # Each value where it stands: the default points, a type's points, an option.
    values = [((*at, "points"), points), *(((*at, "points_by_type", k), v) for k, v in by_type.items()),
              *(((*at, "points_options", n), v) for n, v in enumerate(options))]
    if ind.is_hours:  # a rate per hour: only hours x rate is recorded, rounded half up as the rules say
        problems += [Problem(where, FIGURE_PLACES) for where, v in values if not _fits(v, 2)]
    else:
        problems += [Problem(where, POINTS_PLACES) for where, v in values if not _fits(v, 1)]
    if ind.veto:
        problems += [Problem(where, N_("the veto's points must be 0")) for where, v in values if v != 0]
    elif category == "K":
        problems += [Problem(where, N_("deductions must be negative")) for where, v in values if v >= 0]
    elif category in ("J", "Z"):
        problems += [Problem(where, N_("must be positive")) for where, v in values if v <= 0]
        if ind.is_hours and options:
            problems.append(Problem((*at, "points_options"), N_("an hours indicator cannot have point options")))
    if options and points not in options:
        problems.append(Problem((*at, "points"), N_("must be one of the allowed values (points_options)")))
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
