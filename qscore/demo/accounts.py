"""The demo's accounts: the street administrator, a secretary per community and per branch (members too), and
five member accounts (MEMBER_ACCOUNTS), all with the password DEMO_PASSWORD."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ..db import db
from ..demo_mode import DEMO_PASSWORD, DEMO_STREET, DEMO_TOTP_SECRET
from ..models import Community, Street, User
from ..second_step import enrol_fixed
from ..security import hash_password
from .plan import BRANCHES, COMMUNITIES, MEMBER_ACCOUNTS
from .records import BranchRecord, MemberRecord

if TYPE_CHECKING:
    from .builder import _Builder


def demo_accounts() -> list[tuple[str, str, str]]:
    """(username, role, scope) of every demo account; all have the password DEMO_PASSWORD."""
    rows = [("street", "street_admin", DEMO_STREET)]
    rows += [(f"community{i + 1}", "community_secretary", c[0]) for i, c in enumerate(COMMUNITIES)]
    rows += [(f"branch{i + 1:02d}", "branch_secretary", b[1]) for i, b in enumerate(BRANCHES)]
    rows += [(f"member{i + 1}", "member", BRANCHES[b][1]) for i, (b, _t, _w) in enumerate(MEMBER_ACCOUNTS)]
    return rows


def write_accounts(b: _Builder, street: Street, communities: list[Community]) -> User:
    """The accounts of demo_accounts(), in its order; the planned secretaries and members learn their user ids.
    Returns the street administrator."""
    # One password hash for all (scrypt is slow). Secretaries are members too.
    pw = hash_password(DEMO_PASSWORD)
    created = datetime(b.prev - 1, 12, 15, 1, 30)

    def account(username: str, display: str, role: str, *, community: Community | None = None,
                branch: BranchRecord | None = None, member: MemberRecord | None = None) -> User:
        return User(username=username, display_name=display, password_hash=pw, role=role, street_id=street.id,
                    community_id=community.id if community else None, branch_id=branch.id if branch else None,
                    member_id=member.id if member else None, created_at=created)

    admin = account("street", f"{DEMO_STREET}党工委", "street_admin")
    community_users = [account(f"community{i + 1}", m.name, "community_secretary", community=communities[i], member=m)
                       for i, m in enumerate(b.community_secretaries)]
    branch_users = [account(f"branch{i + 1:02d}", br.secretary.name, "branch_secretary",
                            community=communities[br.community], branch=br, member=br.secretary)
                    for i, br in enumerate(b.branches)]
    member_users = [account(f"member{i + 1}", m.name, "member", community=communities[m.branch.community],
                            branch=m.branch, member=m) for i, m in enumerate(b.account_members)]
    enrol_fixed(admin, DEMO_TOTP_SECRET)  # the other demo accounts log in with the password alone
    db.session.add_all([admin, *community_users, *branch_users, *member_users])
    db.session.flush()
    for i, u in enumerate(community_users):
        b.community_user[i] = u.id
        b.community_secretaries[i].user_id = u.id
    for br, u in zip(b.branches, branch_users):
        br.user_id = u.id
        br.secretary.user_id = u.id
    for m, u in zip(b.account_members, member_users):
        m.user_id = u.id
    return admin
