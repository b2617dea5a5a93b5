"""SQLAlchemy 2.0 typed models; imports nothing else of the project."""

from .accounts import ROLES, ApiClient, AuditEvent, LoginEvent, LoginFailure, User
from .base import Base, UtcDateTime, utcnow
from .books import Assessment, Case, Training, training_attendee
from .demands import DEMAND_STATUSES, MATCH_STATUSES, Demand, DemandEvent, Match, MatchEvent
from .experts import Expert, ExpertItem
from .matchmaking import (
    INVITATION_KINDS,
    MEETING_STATUSES,
    Invitation,
    MatchmakingMeeting,
    MeetingSession,
    MeetingSlot,
    SessionDemand,
)
from .organisation import (
    Enterprise,
    Institution,
    Investor,
    Liaison,
    Park,
    investor_industry,
    liaison_enterprise,
    liaison_park,
)
from .reference import (
    BackgroundJob,
    DataVersion,
    District,
    DistrictQuota,
    DomainTerm,
    Industry,
    SequenceCounter,
    TechField,
)
from .visits import Visit, visit_demand

__all__ = [
    "Visit", "visit_demand",
    "ROLES", "ApiClient", "AuditEvent", "LoginEvent", "LoginFailure", "User", "Base",
    "UtcDateTime", "utcnow",
    "DEMAND_STATUSES", "MATCH_STATUSES", "Demand", "DemandEvent", "Match", "MatchEvent",
    "Expert", "ExpertItem", "INVITATION_KINDS", "MEETING_STATUSES", "Invitation",
    "MatchmakingMeeting", "MeetingSession", "MeetingSlot", "SessionDemand", "Enterprise",
    "Institution", "Investor", "Liaison", "Park", "investor_industry", "liaison_enterprise",
    "liaison_park", "Assessment", "Case", "Training", "training_attendee", "BackgroundJob",
    "DataVersion", "District", "DistrictQuota", "DomainTerm", "Industry", "SequenceCounter",
    "TechField",
]
