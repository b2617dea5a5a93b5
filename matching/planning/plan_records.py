"""Plain frozen records passed in and out of the matchmaking-meeting planner.

The planner (:mod:`matching.planning`) takes and returns only these records, so that it can be
used and tested without Flask or a database. Ids are whatever the caller uses (database
integers or strings); the planner only compares them for equality and hashes them.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from numbers import Integral

__all__ = [
    "Agenda",
    "Placement",
    "Room",
    "SessionNeeds",
    "TimeSlot",
    "UnplacedMeeting",
    "whole_number",
    "ExpertAssignment",
    "ExpertSeat",
    "MeetingDemand",
    "MeetingEnterprise",
    "MeetingInvestor",
    "OneToOne",
    "PlanLocks",
    "PlanningError",
    "Session",
    "SessionInvitees",
    "SessionLimits",
    "SessionPlan",
    "SessionTimetable",
]

Id = Hashable


class PlanningError(ValueError):
    """The planner cannot honour its input; ``message`` tells the organiser what to change.

    Parameters
    ----------
    message : str
        A sentence in Simplified Chinese for the organiser, saying which input or limit to
        change and, where it can be computed, by how much.
    code : str
        A stable English identifier of the failure, for logs and tests.
    """

    def __init__(self, message: str, code: str = "planning") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def whole_number(value: object, what: str, *, least: int = 0, code: str = "input") -> int:
    """Return ``value`` as an int, or raise PlanningError naming ``what`` (never a TypeError).

    Whole floats (3.0) are accepted; strings, booleans, 3.5 and values below ``least`` are not.
    """
    kind = "正整数" if least >= 1 else "非负整数" if least == 0 else "整数"
    integral = isinstance(value, Integral) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not integral:
        raise PlanningError(f"{what}应为{kind}，而不是“{value}”", code)
    if int(value) < least:
        raise PlanningError(f"{what}至少应为 {least}，而不是 {int(value)}", code)
    return int(value)


@dataclass(frozen=True, slots=True)
class MeetingDemand:
    """A demand the organiser picked for a meeting.

    ``tokens`` are the stored analyzer tokens; when empty, the planner tokenizes ``text``.
    ``industry`` is an industry id or label (``None`` when unknown: the planner places the
    demand by its text). ``planned_investment`` is in 万元.
    """

    id: Id
    text: str = ""
    tokens: tuple[str, ...] = ()
    industry: Id | None = None
    field: Id | None = None
    planned_investment: float | None = None
    enterprise_id: Id | None = None
    stage: str | None = None


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """Size limits of the sessions: demands per session, and how many sessions.

    ``n_sessions`` counts every session of the plan, locked ones included; ``None`` lets the
    planner choose (sessions of about ``(min_demands + max_demands) / 2`` demands, at least
    one per industry that has ``min_demands`` demands).
    """

    min_demands: int = 3
    max_demands: int = 8
    n_sessions: int | None = None


@dataclass(frozen=True, slots=True)
class Session:
    """One session (分场) of a matchmaking meeting.

    ``industry`` is the industry the session was seeded from; ``industries`` lists every
    industry of its demands, most frequent first (demands placed by text count under the
    industry the planner inferred).
    """

    key: str
    demand_ids: tuple[Id, ...]
    theme_words: tuple[str, ...] = ()
    industry: Id | None = None
    industries: tuple[Id, ...] = ()
    locked: bool = False


@dataclass(frozen=True, slots=True)
class SessionPlan:
    """The sessions of a meeting, and the industry inferred for each unlabelled demand."""

    sessions: tuple[Session, ...]
    inferred_industries: tuple[tuple[Id, Id], ...] = ()

    def session_of(self, demand_id: Id) -> Session:
        """Return the session that holds ``demand_id``."""
        for session in self.sessions:
            if demand_id in session.demand_ids:
                return session
        raise KeyError(demand_id)

    def by_key(self, key: str) -> Session:
        """Return the session with ``key``."""
        for session in self.sessions:
            if session.key == key:
                return session
        raise KeyError(key)


@dataclass(frozen=True, slots=True)
class PlanLocks:
    """What a re-plan must keep as it is.

    ``sessions`` are kept whole (key, demands, theme words). ``placements`` pin a demand to a
    session key: the demand stays in the session of that key, which is created when it is not
    a locked session. ``expert_seats`` keep an expert invited to a session.
    """

    sessions: tuple[Session, ...] = ()
    placements: tuple[tuple[Id, str], ...] = ()
    expert_seats: tuple[tuple[Id, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ExpertSeat:
    """An expert invited to a session, with the session affinity that earned the seat."""

    session_key: str
    expert_id: Id
    affinity: float
    locked: bool = False


@dataclass(frozen=True, slots=True)
class ExpertAssignment:
    """Expert invitations of every session, from one global optimisation."""

    seats: tuple[ExpertSeat, ...]
    total_affinity: float

    def experts_of(self, session_key: str) -> tuple[Id, ...]:
        """Return the experts invited to ``session_key``, best affinity first."""
        return tuple(s.expert_id for s in self.seats if s.session_key == session_key)


@dataclass(frozen=True, slots=True)
class MeetingEnterprise:
    """An enterprise that may be invited as a related enterprise of the industrial chain."""

    id: Id
    name: str = ""
    industry: Id | None = None
    text: str = ""
    tokens: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MeetingInvestor:
    """A venture-capital investor and its preferences.

    Empty ``industries`` or ``stages`` mean no preference; ticket sizes are in 万元 and
    ``None`` means open-ended.
    """

    id: Id
    name: str = ""
    industries: tuple[Id, ...] = ()
    stages: tuple[str, ...] = ()
    ticket_min: float | None = None
    ticket_max: float | None = None


@dataclass(frozen=True, slots=True)
class SessionInvitees:
    """The other invitees of one session."""

    session_key: str
    enterprise_ids: tuple[Id, ...] = ()
    investor_ids: tuple[Id, ...] = ()
    institution_ids: tuple[Id, ...] = ()


@dataclass(frozen=True, slots=True)
class OneToOne:
    """A 1:1 meeting between a demand's enterprise and an expert, at a slot and a table.

    ``slot`` and ``table`` count from 0.
    """

    demand_id: Id
    expert_id: Id
    enterprise_id: Id | None
    slot: int
    table: int


@dataclass(frozen=True, slots=True)
class SessionTimetable:
    """The 1:1 timetable of one session.

    ``idle_gaps`` counts, over every participant, the empty slots between their first and
    last meeting.
    """

    session_key: str
    meetings: tuple[OneToOne, ...]
    n_slots: int
    n_tables: int
    idle_gaps: int


@dataclass(frozen=True, slots=True)
class Room:
    """A room of the meeting's venue and how many people it seats."""

    key: str
    capacity: int
    name: str = ""


@dataclass(frozen=True, slots=True)
class TimeSlot:
    """A time slot of the meeting (a half-day block, say); ``rounds`` 1:1 rounds fit in it.

    ``day`` counts from 0; ``label`` is what organisers read (``第1天 09:00–10:30``).
    """

    key: str
    day: int = 0
    label: str = ""
    rounds: int | None = None


@dataclass(frozen=True, slots=True)
class SessionNeeds:
    """What a session needs from the agenda.

    ``size`` is the number of people the room must seat; ``people`` are the participants
    who cannot be in two sessions at once (experts, demand owners or their contact,
    investors), as hashable ids such as ``("expert", 12)``; ``pin`` fixes the session to
    ``(slot_key, room_key)``.
    """

    key: str
    size: int
    people: tuple[Id, ...] = ()
    pin: tuple[str, str] | None = None
    label: str = ""


@dataclass(frozen=True, slots=True)
class Placement:
    """A session placed in a time slot and a room."""

    session_key: str
    slot_key: str
    room_key: str
    pinned: bool = False


@dataclass(frozen=True, slots=True)
class Agenda:
    """Where every session is held; sessions that cannot be placed, and what to change.

    ``unplaced`` pairs a session key with the reason; ``advice`` lists the changes that would
    let every session be placed (add a slot or room, split, move or drop named sessions).
    ``exact`` says whether the count of placed sessions was proven maximal.
    """

    placements: tuple[Placement, ...]
    unplaced: tuple[tuple[str, str], ...] = ()
    advice: tuple[str, ...] = ()
    exact: bool = False

    def placement_of(self, session_key: str) -> Placement | None:
        """Return the placement of ``session_key`` (``None`` when unplaced)."""
        for p in self.placements:
            if p.session_key == session_key:
                return p
        return None


@dataclass(frozen=True, slots=True)
class UnplacedMeeting:
    """A requested 1:1 meeting that the timetable could not place, and why (in Chinese)."""

    demand_id: Id
    expert_id: Id
    reason: str
