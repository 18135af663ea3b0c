"""The demo street (示范街道): a realistic street to try qscore with, the same for a given seed and day.

``load_demo(today)`` builds three communities, ten branches and 300 members with their type
history, branch spells, leaves, meetings, about two years of ledger (the past full year and the
current year up to ``today``), a few corrections, self-records in every state and the accounts
listed by ``demo_accounts()``, all with the password ``qscore-demo``.

Every figure of the statistics page is alive, and every stage of the cycle has an example: the
communities' volunteer posts (奉献岗) and contact households (联系户) in the seed's proportions
(SERVICE_RATIOS: 前进社区 is its Qianlong, 271 posts and 189 households for 250 members), each
month on duty a Z1 the branch confirmed with its PostService rows, each visit a Z2 with its
HouseholdVisit, declarations waiting for the branch; volunteer teams with members (11 -> 13 in
前进社区); published quarters, one of them adjusted later because a resident's query proved an
entry missing, another query answered and one waiting; the past year's review with rectification
cases under way, extended, closed as rectified (late in the year) and proposed for expulsion to
the street.

The grades of the past year come out as a street office would expect them: most members
qualified, about a sixth advanced, a handful to rectify (an unexcused-absence streak, a dues-arrears
streak, two low scores, a veto), one heavier deduction on an otherwise strong member. The plan is
checked against the scoring rules while it is built (``qscore.scoring``): a member meant to be
qualified whose contributions would make them advanced loses some, and the reverse.

The demo is a separate mode: ``is_real_data_present()`` (qscore/demo_mode.py, which the running app
imports instead of this package) is what the CLI checks before loading it, and what the login checks
to refuse the demo's shared password once real data exists.

A meeting's ``expected_count`` is the branch's roll on the day less members on a registered leave
(the attendance definition of scheme.default.json's branch index and the figures page).

The modules, in the order ``load_demo`` (load.py) uses them:

- plan.py: the constants and names tables; records.py: the plan in memory (branch, member, meeting,
  post and household records); days.py: the calendar; builder.py: ``_Builder``, the random streams
  and the two primitives every area uses (a timestamp, a ledger row);
- people.py: members, names, dates, type changes, roles and leaves; accounts.py: the accounts;
- service.py: volunteer posts, contact households and teams; meetings.py: meetings and attendance;
- ledger.py: the other entries, checked against the rules, and the bulk write; corrections.py: the
  corrected entries and the self-records;
- publishing.py: the published quarters and the residents' queries; review.py: the past year's
  review and its rectification cases.
"""
from __future__ import annotations

# Re-exported: the load actions and the tests read them here too; the running app imports demo_mode only.
from ..demo_mode import DEMO_PASSWORD, DEMO_STREET, DEMO_TOTP_SECRET, demo_loaded, is_real_data_present
from .accounts import demo_accounts
from .builder import _Builder
from .load import load_demo
from .plan import (COMPOUND_SURNAMES, DEFAULT_SEED, GIVEN, ORG_LIFE_TOPICS, POSTS, POSTS_FROM_HOME, SERVICE_RATIOS,
                   SINGLE_GIVEN, STUDY_TOPICS, SURNAMES, TEAM_PLAN, TYPE_MIX)

__all__ = ["COMPOUND_SURNAMES", "DEFAULT_SEED", "DEMO_PASSWORD", "DEMO_STREET", "DEMO_TOTP_SECRET", "GIVEN",
           "ORG_LIFE_TOPICS", "POSTS", "POSTS_FROM_HOME", "SERVICE_RATIOS", "SINGLE_GIVEN", "STUDY_TOPICS", "SURNAMES",
           "TEAM_PLAN", "TYPE_MIX", "_Builder", "demo_accounts", "demo_loaded", "is_real_data_present", "load_demo"]
