"""How points add up: the only place that knows the scheme's rules (see scheme.default.json "rules").

Two layers, in this one package so the rules live in one place:

1. Pure functions (no Flask, no database): a member's type history and a ``MemberLedger`` of live
   points summed per (indicator, category, month) go in; a ``YearScore``, ``PeriodPoints``, a
   ``Grade`` and early warnings come out. Arithmetic is exact and in integers: points in tenths,
   caps in the scheme's units, pro-rated figures in twelfths of them (compiled.py says why that is
   exact for every scheme Scheme.from_dict accepts); only a final figure is rounded, half up, to one
   decimal. There is one way to score; the rules as written, in Decimals and Fractions, are the
   oracle in tests/scoring_oracle.py that the property tests compare with.
2. The SQL layer (``fetch_ledgers``, ``fetch_type_histories``, ``score_members``,
   ``member_warnings``): a constant number of queries for any number of members, on SQLite and
   PostgreSQL alike. Ledgers are read from the stored year sums (year_sums.py: one row per member-year,
   recomputed from the ledger in the transaction of every write), grouped from the ledger only for an
   "as of" before a member's last entry.

Rules name indicators by their flags and roles (veto, heavier, absence, dues_arrears), never by code.

Decisions where the scheme's rules are silent (each is repeated where it is implemented):
- Caps apply to entries stored under J or Z; K is never capped, even if a K indicator had caps.
  An entry whose indicator is no longer in the scheme counts in its stored category, uncapped.
- A quarter cap is consumed in month order, so month points add up to the quarter's points.
- A cap counts as "reached" when the uncapped amount is at least the cap.
- A year_cap_by_type without a value for some month's type falls back to year_cap; if that is
  missing too the indicator is uncapped for the year.
- Months after as_of take the type in force on as_of; an as_of after Dec 31 means Dec 31.
- Months on the roll count the month of on_roll_since in full, up to December (see months_on_roll).
  The grade as of a date before Dec 31 is a projection: quarters not reached yet have no
  contribution, so "advanced" appears only once earned.
- Not graded for leaving: status not "active" and left_roll_on in or before the year (or missing).
- Rectify wins over advanced; every rectify reason that applies is listed.
- An early-warning streak must end in as_of's month or the one before; "no entries" needs the
  member on the roll since the window's first month.
"""
from __future__ import annotations

from .branch_index import (BRANCH_INDEX_COMPONENTS, PUBLICATION_DAYS, BranchIndex, BranchIndexInputs, ReviewFlags,
                           branch_index, branch_indices, fetch_branch_index_inputs, rank_branch_indices, review_flags)
from .compiled import CompiledScheme, compiled
from .entries import ENTRY_ERROR_TEXTS, EntryError, EntryValue, check_earned_on, check_note, entry_points
from .grade import GRADE_CODES, Grade, left_roll_in, months_on_roll, quarters_on_roll, suggest_grade
from .member import MemberScore, score_member
from .periods import (CapHit, PeriodPoints, effective_as_of, last_month, longest_run, month_index, quarter_end,
                      quarter_months, quarter_of, year_end, ym)
from .ledger_sql import ID_CHUNK, ledgers_from_entries, live_entry_clause, month_of, year_of
from .queries import (MemberLike, fetch_type_histories, fetch_warning_months, member_warnings,
                      score_and_warn, score_members)
from .reasons import N_, REASON_TEXTS, Reason
from .rounding import DZERO, ONE_DECIMAL, ZERO, round_half_up, round_units
from .sums import Entry, Key, MemberLedger, live_entries, to_tenths
from .types import MissingTypeHistory, TypeHistory, month_types, type_on, types_and_type_on
from .warnings import RegisterMonths, WarningMonths, early_warnings
from .year import YearScore, year_score
from .year_sums import fetch_ledgers

# The names scoring.py had before it became a package (bench/floors.py imports _month_index).
_effective_as_of = effective_as_of
_month_index = month_index
_ym = ym

__all__ = ["BRANCH_INDEX_COMPONENTS", "PUBLICATION_DAYS", "BranchIndex", "BranchIndexInputs", "ReviewFlags",
           "branch_index", "branch_indices", "fetch_branch_index_inputs", "rank_branch_indices", "review_flags",
           "CompiledScheme", "compiled", "ENTRY_ERROR_TEXTS", "EntryError", "EntryValue", "check_earned_on",
           "check_note", "entry_points", "GRADE_CODES", "Grade", "left_roll_in", "months_on_roll",
           "quarters_on_roll", "suggest_grade", "MemberScore", "score_member", "CapHit", "PeriodPoints",
           "effective_as_of", "last_month", "longest_run", "month_index", "quarter_end", "quarter_months",
           "quarter_of", "year_end", "ym", "ID_CHUNK", "MemberLike", "fetch_ledgers", "fetch_type_histories",
           "fetch_warning_months", "ledgers_from_entries", "live_entry_clause", "member_warnings", "month_of",
           "score_and_warn", "score_members", "year_of",
           "N_", "REASON_TEXTS", "Reason", "DZERO", "ONE_DECIMAL", "ZERO", "round_half_up", "round_units", "Entry",
           "Key", "MemberLedger", "live_entries", "to_tenths", "MissingTypeHistory", "TypeHistory", "month_types",
           "type_on", "types_and_type_on", "RegisterMonths", "WarningMonths", "early_warnings", "YearScore", "year_score",
           "_effective_as_of", "_month_index", "_ym"]
