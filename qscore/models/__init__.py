"""The data model: organisations, accounts, members, the scheme, the ledger, publications and reviews."""
from .org import Street, Community, Branch, BRANCH_KINDS
from .accounts import User, UserSession, LoginAttempt, RecoveryCode, ROLES
from .account_events import AccountEvent
from .audit import AuditLog
from .settings import Setting
from .members import Member, MemberType, BranchSpell, Leave, MEMBER_STATUSES, LEAVE_KINDS
from .scheme import SchemeVersion
from .ledger import LedgerYearSums, PointEntry, SelfRecord, Meeting, MEETING_KINDS, ENTRY_SOURCES
from .publication import Publication, PublicationAdjustment, Reconciliation, ResidentQuery
from .review import YearReview, ReviewGrade, RectificationCase, CaseFollowUp, Proposal
from .service import (PostKind, MemberPost, PostService, Household, HouseholdVisit, VolunteerTeam,
                      TeamMembership)
from .dues import DuesRate, DuesLine, DuesClose, DuesPoint, DUES_METHODS, DUES_LINE_KINDS
from .checkin import CheckinMeeting, Checkin, CHECKIN_WAYS

__all__ = [
    "Street", "Community", "Branch", "BRANCH_KINDS",
    "User", "UserSession", "LoginAttempt", "RecoveryCode", "ROLES", "AccountEvent",
    "AuditLog", "Setting",
    "Member", "MemberType", "BranchSpell", "Leave", "MEMBER_STATUSES", "LEAVE_KINDS",
    "SchemeVersion",
    "LedgerYearSums", "PointEntry", "SelfRecord", "Meeting", "MEETING_KINDS", "ENTRY_SOURCES",
    "Publication", "PublicationAdjustment", "Reconciliation", "ResidentQuery",
    "YearReview", "ReviewGrade", "RectificationCase", "CaseFollowUp", "Proposal",
    "PostKind", "MemberPost", "PostService", "Household", "HouseholdVisit", "VolunteerTeam", "TeamMembership",
    "DuesRate", "DuesLine", "DuesClose", "DuesPoint", "DUES_METHODS", "DUES_LINE_KINDS",
    "CheckinMeeting", "Checkin", "CHECKIN_WAYS",
]
