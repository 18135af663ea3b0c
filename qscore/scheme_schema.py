"""The one door a scheme passes before it is stored: read the file (size, encoding, JSON), check its shape
against a JSON Schema (Draft 2020-12), and only then Scheme.from_dict's rules. The import and the editor's
save both call check_scheme (and save_scheme calls it again), so neither can store what the other refuses.

Every problem is a Problem: its path in the file ("indicators[3].code") and an English message the UI
translates. Decisions in the schema, object by object:
- Objects the code reads (the document, a type, a category, an indicator, the thresholds, the branch index,
  the rectification) are closed: a misspelt key ("year_caps") would be stored and silently do nothing, so it
  is refused by name. A key starting with "_" is a comment and is allowed in them.
- Per-type maps and the weights allow only the keys the code knows (A-D, the five index components): the
  code sums every weight it is given and ignores those it cannot compute.
- The documentation the default carries (year_score, rules, veto, grades, definitions) stays open but holds
  text only, so nothing unbounded or nested rides along into the database.
- Numbers have ranges and at most two decimals (what the editor accepts); texts have the editor's lengths and
  no control characters or lone surrogates (a database or a page cannot hold them); codes are what the
  editor accepts for a new indicator; units are the ones the pages can name in Chinese.
"""
from __future__ import annotations

import codecs
import functools
import json
import math
import re
from decimal import Decimal, InvalidOperation
from typing import IO, Any, Iterator

from flask_babel import gettext
from jsonschema import Draft202012Validator, ValidationError, validators

from .scheme import (CATEGORY_CODES, N_, ROLES, SHORT_MAX, THRESHOLD_KEYS, TYPE_CODES, Path, Problem, Scheme,
                     SchemeError, path_text)
from .scoring import BRANCH_INDEX_COMPONENTS
from .templating import UNIT_LABELS

MAX_BYTES = 256 * 1024  # the shipped default is about 20 KB
MAX_INDICATORS = 100
NAME_MAX = 100  # a type's or a category's name (the editor's limit)
INDICATOR_TEXT_MAX = 200
NOTES_MAX = 2000
DOC_MAX = 2000  # one rule, one definition
COMMENT_MAX = 5000  # "_about"
SHOW_MAX = 50  # problems listed on the page
COLLECT_MAX = 1000  # problems looked for: a file full of mistakes is refused quickly all the same

CODE_PATTERN = r"^[A-Z][A-Z0-9]{0,7}$"
LINE_PATTERN = "^[^\\x00-\\x1f\\x7f\\ud800-\\udfff]*$"  # one line: no control characters, no lone surrogates
TEXT_PATTERN = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f\\ud800-\\udfff]*$"  # notes may break lines and tab


def _number(low: int, high: int, *, above: bool = False) -> dict:
    bound = {"exclusiveMinimum": low} if above else {"minimum": low}
    return {"type": "number", **bound, "maximum": high, "multipleOf": 0.01}


def _whole(low: int, high: int) -> dict:
    return {"type": "integer", "minimum": low, "maximum": high}


def _line(high: int, low: int = 0) -> dict:
    return {"type": "string", **({"minLength": low} if low else {}), "maxLength": high, "pattern": LINE_PATTERN}


def _text(high: int) -> dict:
    return {"type": "string", "maxLength": high, "pattern": TEXT_PATTERN}


def _closed(properties: dict, required: tuple[str, ...] = ()) -> dict:
    return {"type": "object", "required": list(required), "properties": properties,
            "patternProperties": {"^_": _text(COMMENT_MAX)}, "additionalProperties": False}


def _by_type(value: dict) -> dict:
    return {"type": "object", "properties": {t: value for t in TYPE_CODES}, "additionalProperties": False}


POINTS = _number(-1000, 1000)
CAP = _number(0, 1000, above=True)
DOC = {"type": "object", "additionalProperties": _text(DOC_MAX)}

TYPE = _closed({
    "code": {"enum": list(TYPE_CODES)},
    "zh": _line(NAME_MAX, 1), "en": _line(NAME_MAX),
    "base": _number(0, 1000), "basic_cap": CAP, "contribution_cap": CAP,
}, required=("code", "zh", "base", "basic_cap", "contribution_cap"))

CATEGORY = _closed({
    "code": {"enum": list(CATEGORY_CODES)},
    "zh": _line(NAME_MAX, 1), "en": _line(NAME_MAX), "sign": {"enum": ["+", "-"]},
}, required=("code", "zh"))

INDICATOR = _closed({
    "code": {"type": "string", "pattern": CODE_PATTERN},
    "category": {"enum": list(CATEGORY_CODES)},
    "zh": _line(INDICATOR_TEXT_MAX, 1), "en": _line(INDICATOR_TEXT_MAX),
    **{k: _line(n) for k, n in SHORT_MAX.items()},
    "points": POINTS,
    "points_by_type": _by_type(POINTS),
    "points_options": {"type": "array", "maxItems": 10, "uniqueItems": True, "items": POINTS},
    "unit": {"enum": ["", *UNIT_LABELS]},
    "month_cap": CAP, "quarter_cap": CAP, "year_cap": CAP,
    "year_cap_by_type": _by_type(CAP),
    "applies_to": {"type": "array", "minItems": 1, "maxItems": len(TYPE_CODES), "uniqueItems": True,
                   "items": {"enum": list(TYPE_CODES)}},
    "role": {"enum": list(ROLES)},
    "heavier": {"type": "boolean"}, "veto": {"type": "boolean"}, "retired": {"type": "boolean"},
    "notes": _text(NOTES_MAX), "notes_zh": _text(NOTES_MAX),
}, required=("code", "category", "zh", "points"))

THRESHOLDS = _closed({
    "advanced_min": _number(0, 1000), "qualified_min": _number(0, 1000),
    "advanced_min_quarters_with_contribution": _whole(0, 4),
    "rectify_streak_months": _whole(1, 12), "warning_streak_months": _whole(1, 12),
    "min_months_on_roll_for_grade": _whole(1, 12),
}, required=THRESHOLD_KEYS)

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "qscore: the scheme of a year",
    **_closed({
        "$schema": {"type": "string", "maxLength": 200},
        "year_score": _text(DOC_MAX),
        "types": {"type": "array", "minItems": 4, "maxItems": 4, "items": TYPE},
        "categories": {"type": "array", "minItems": 3, "maxItems": 3, "items": CATEGORY},
        "indicators": {"type": "array", "minItems": 1, "maxItems": MAX_INDICATORS, "items": INDICATOR},
        "veto": DOC,
        "grades": {"type": "array", "maxItems": 10, "items": DOC},
        "rectification": _closed({
            "period_months": _whole(1, 24),
            "outcomes": {"type": "array", "maxItems": 20, "items": _line(100)},
            "approval": _text(DOC_MAX),
        }),
        "rules": {"type": "array", "maxItems": 100, "items": _text(DOC_MAX)},
        "grade_thresholds": THRESHOLDS,
        "branch_index": _closed({
            "weights": {"type": "object", "properties": {k: _number(0, 1) for k in BRANCH_INDEX_COMPONENTS},
                        "additionalProperties": False},
            "definitions": DOC,
        }),
    }, required=("types", "categories", "indicators", "grade_thresholds")),
}


# -- the validator: a missing or unknown key is reported at its own path; decimals are exact; patterns read as
# ECMA-262 reads them; no pairwise comparison of a list longer than allowed ---------------------------------------

_BASE = Draft202012Validator.VALIDATORS


def _required(validator, required, instance, schema) -> Iterator[ValidationError]:
    if validator.is_type(instance, "object"):
        for key in required:
            if key not in instance:
                yield ValidationError(f"{key!r} is missing", path=[key])


def _additional(validator, allowed, instance, schema) -> Iterator[ValidationError]:
    if allowed is not False:
        yield from _BASE["additionalProperties"](validator, allowed, instance, schema)
        return
    if validator.is_type(instance, "object"):
        known = schema.get("properties", {})
        patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
        for key in instance:
            if key not in known and not any(p.search(key) for p in patterns):
                yield ValidationError(f"{key!r} is unknown", path=[key])


def _multiple_of(validator, step, instance, schema) -> Iterator[ValidationError]:
    """multipleOf in decimal (0.15 is a multiple of 0.01; in binary floats it is not)."""
    if not validator.is_type(instance, "number"):
        return
    try:
        if Decimal(str(instance)) % Decimal(str(step)) == 0:
            return
    except InvalidOperation:  # too large to divide: the range check reports it
        return
    yield ValidationError(f"{instance!r} is not a multiple of {step}")


def _unique_items(validator, unique, instance, schema) -> Iterator[ValidationError]:
    """uniqueItems, but not over a list longer than its maxItems (which reports it): comparing 30,000 objects
    pairwise would take minutes."""
    if validator.is_type(instance, "array") and len(instance) <= schema.get("maxItems", 100):
        yield from _BASE["uniqueItems"](validator, unique, instance, schema)


@functools.cache
def _regex(pattern: str) -> re.Pattern:
    """A schema pattern as ECMA-262 reads it: "$" is the end of the text (Python's "$" also matches before a
    final line break)."""
    return re.compile(pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern)


def _pattern(validator, pattern, instance, schema) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _regex(pattern).search(instance):
        yield ValidationError(f"{instance[:40]!r} does not match {pattern!r}")


Validator = validators.extend(Draft202012Validator, {"required": _required, "additionalProperties": _additional,
                                                     "multipleOf": _multiple_of, "pattern": _pattern,
                                                     "uniqueItems": _unique_items})
_VALIDATOR = Validator(SCHEMA)

TYPE_MESSAGES = {
    "string": N_("must be text"),
    "number": N_("must be a number"),
    "integer": N_("must be a whole number"),
    "boolean": N_("must be true or false"),
    "array": N_("must be a list […]"),
    "object": N_("must be an object {…}"),
}
PATTERN_MESSAGES = {
    CODE_PATTERN: N_("a capital letter, then up to 7 capital letters or digits (e.g. Z8)"),
    LINE_PATTERN: N_("must not hold line breaks, control characters or invalid characters"),
    TEXT_PATTERN: N_("must not hold control characters or invalid characters"),
}


def _problem(error: ValidationError) -> Problem:
    """The validator's error as a Problem with its path and words of its own for each keyword."""
    path: Path = tuple(error.absolute_path)
    keyword, value, sub = error.validator, error.validator_value, error.schema
    if keyword == "type":
        return Problem(path, TYPE_MESSAGES[value])
    if keyword == "required":
        return Problem(path, N_("is missing"))
    if keyword == "additionalProperties":
        return Problem(path, N_("is not part of the scheme format, so it would be ignored: check the spelling "
                                "(a key starting with _ is a comment)"))
    if keyword == "enum":
        return Problem(path, N_("must be one of: %(values)s"),
                       {"values": ", ".join(v if isinstance(v, str) else json.dumps(v) for v in value if v != "")})
    if keyword in ("minimum", "maximum", "exclusiveMinimum"):
        bounds = {"min": sub.get("minimum", sub.get("exclusiveMinimum")), "max": sub["maximum"]}
        if "exclusiveMinimum" in sub:
            return Problem(path, N_("must be more than %(min)s and at most %(max)s"), bounds)
        if sub.get("type") == "integer":
            return Problem(path, N_("must be a whole number from %(min)s to %(max)s"), bounds)
        return Problem(path, N_("must be a number from %(min)s to %(max)s"), bounds)
    if keyword == "minLength":
        return Problem(path, N_("must not be empty"))
    if keyword == "maxLength":
        return Problem(path, N_("at most %(n)d characters"), {"n": value})
    if keyword == "pattern":
        return Problem(path, PATTERN_MESSAGES[value])
    if keyword in ("minItems", "maxItems"):
        if sub.get("minItems") == sub.get("maxItems"):
            return Problem(path, N_("must hold exactly %(n)d items"), {"n": value})
        if keyword == "minItems":
            if value == 1:
                return Problem(path, N_("must not be empty"))
            return Problem(path, N_("must hold at least %(n)d items"), {"n": value})
        return Problem(path, N_("must hold at most %(n)d items"), {"n": value})
    if keyword == "uniqueItems":
        return Problem(path, N_("must not repeat a value"))
    if keyword == "multipleOf":
        return Problem(path, N_("at most %(n)d decimal places"), {"n": -Decimal(str(value)).as_tuple().exponent})
    return Problem(path, N_("does not fit the scheme format"))


def shape_problems(data: Any) -> list[Problem]:
    """What the schema finds, in the file's order, each once."""
    found: dict[tuple, Problem] = {}
    for error in _VALIDATOR.iter_errors(data):
        p = _problem(error)
        found.setdefault((p.path, p.message, tuple(sorted(p.params.items()))), p)
        if len(found) >= COLLECT_MAX:
            break
    return sorted(found.values(), key=_file_order(data))


def _file_order(data: Any):
    """A sort key: a path's position in the file (a missing key after its object's keys)."""
    positions: dict[int, dict[str, int]] = {}

    def key(p: Problem) -> list[int]:
        out, node = [], data
        for k in p.path or ():
            if isinstance(node, list) and isinstance(k, int) and k < len(node):
                out.append(k)
                node = node[k]
            elif isinstance(node, dict):
                if id(node) not in positions:
                    positions[id(node)] = {name: n for n, name in enumerate(node)}
                where = positions[id(node)]
                out.append(where.get(k, len(where)))
                node = node.get(k)
            else:
                out.append(0)
                node = None
        return out

    return key


def check_scheme(data: Any) -> Scheme:
    """The door: the shape first, then from_dict's rules (which may assume the shape); raises SchemeError."""
    problems = shape_problems(data)
    if problems:
        raise SchemeError(problems)
    return Scheme.from_dict(data)


# -- reading a file -------------------------------------------------------------------------------------------

class FileTooLarge(SchemeError):
    status = 413


class _Refused(Exception):
    def __init__(self, problem: Problem):
        self.problem = problem


JSON_MESSAGES = {  # json's own words, first words first
    "Expecting value": N_("a value was expected here"),
    "Expecting property name enclosed in double quotes": N_("a key in double quotes was expected here"),
    "Expecting ':' delimiter": N_("a colon “:” was expected here"),
    "Expecting ',' delimiter": N_("a comma “,” was expected here"),
    "Unterminated string starting at": N_("a text starting here has no closing quote"),
    "Invalid control character at": N_("a control character (such as a line break) inside a text"),
    "Invalid \\uXXXX escape": N_("an invalid escape (\\) inside a text"),
    "Invalid \\escape": N_("an invalid escape (\\) inside a text"),
    "Extra data": N_("extra content after the end of the JSON document"),
    "Illegal trailing comma": N_("a comma before a closing bracket"),
}


def _one_of_each(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen = set()
    for key, _value in pairs:
        if key in seen:
            raise _Refused(Problem(None, N_("The key “%(key)s” appears twice in one object: qscore cannot tell which "
                                            "one is meant."), {"key": key[:40]}))
        seen.add(key)
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise _Refused(Problem(None, N_("The file holds %(what)s, which JSON does not allow: write a number."),
                           {"what": name}))


def _out_of_range(text: str) -> Problem:
    return Problem(None, N_("The number %(n)s is out of range."), {"n": text if len(text) <= 20 else text[:20] + "…"})


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e309
        raise _Refused(_out_of_range(text))
    return value


def _short_int(text: str) -> int:
    if len(text) > 16:  # far beyond any range of the scheme; int() of 5,000 digits would fail on its own
        raise _Refused(_out_of_range(text))
    return int(text)


def parse_scheme_bytes(raw: bytes) -> Any:
    """The document in a file's bytes: UTF-8 with or without a BOM, strict JSON; raises SchemeError."""
    def refuse(message: str, **params) -> SchemeError:
        return SchemeError([Problem(None, message, params)])

    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        if b"\x00" in raw:  # UTF-16 or UTF-32: JSON in UTF-8 never holds a NUL byte
            raise UnicodeDecodeError("utf-8", raw, 0, 1, "NUL byte")
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise refuse(N_("The file is not UTF-8 text (it may be saved as UTF-16 or GBK): save it as UTF-8 and "
                        "choose it again.")) from None
    if not text.strip():
        raise refuse(N_("The file is empty."))
    try:
        return json.loads(text, object_pairs_hook=_one_of_each, parse_constant=_no_constant,
                          parse_float=_finite_float, parse_int=_short_int)
    except json.JSONDecodeError as err:
        what = next((m for k, m in JSON_MESSAGES.items() if err.msg.startswith(k)), err.msg)
        raise refuse(N_("The file is not valid JSON: line %(line)d, column %(col)d: %(what)s"), line=err.lineno,
                     col=err.colno, what=gettext(what)) from None
    except RecursionError:
        raise refuse(N_("The file is nested too deeply to be a scheme.")) from None
    except _Refused as refused:
        raise SchemeError([refused.problem]) from None


def read_scheme_file(stream: IO[bytes]) -> Any:
    """An uploaded file's document, read no further than MAX_BYTES; raises SchemeError (FileTooLarge)."""
    raw = stream.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise FileTooLarge([Problem(None, N_("The file is larger than %(kb)d KB; a scheme file is about 20 KB. "
                                             "Choose the scheme's JSON file."), {"kb": MAX_BYTES // 1024})])
    return parse_scheme_bytes(raw)


# -- showing problems ---------------------------------------------------------------------------------------

def _code_at(path: Path, data: Any) -> str | None:
    """The code of the indicator or type a path lies in, where the file gives a valid one."""
    if len(path) < 3 or path[0] not in ("indicators", "types") or not isinstance(path[1], int):
        return None
    try:
        code = data[path[0]][path[1]]["code"]
    except (KeyError, IndexError, TypeError):
        return None
    if not isinstance(code, str):
        return None
    valid = _regex(CODE_PATTERN).search(code) if path[0] == "indicators" else code in TYPE_CODES
    return code if valid else None


def problem_lines(problems: list[Problem], data: Any = None) -> list[str]:
    """Each problem as the admin reads it: "indicators[3].points (J4): must be a number", in their language."""
    lines = []
    for p in problems[:SHOW_MAX]:
        if p.path is None:
            lines.append(p.text(gettext))
            continue
        where = path_text(p.path) or gettext("(the whole file)")
        if code := _code_at(p.path, data):
            where = gettext("%(path)s (%(code)s)", path=where, code=code)
        lines.append(gettext("%(path)s: %(message)s", path=where, message=p.text(gettext)))
    if len(problems) > SHOW_MAX:
        lines.append(gettext("Only the first %(n)d problems are listed.", n=SHOW_MAX))
    return lines
