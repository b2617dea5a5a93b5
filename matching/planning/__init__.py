"""Matchmaking-meeting planner: sessions, expert seats, other invitees, agenda, 1:1 timetables.

Pure functions over the frozen records of :mod:`matching.planning.plan_records`, one step a module:

1. :mod:`~matching.planning.sessions` groups the picked demands into sessions: by industry
   first, a large industry split by topic (k-means on TF-IDF vectors), a small industry merged
   into the nearest session, a demand without industry placed by its text; sizes enforced
   exactly by one capacity-constrained assignment. Theme words come from
   :mod:`~matching.planning.themes`.
2. :mod:`~matching.planning.seats` fills the expert seats of every session in one global
   optimisation (a bipartite b-matching LP, totally unimodular, so its optimal vertex is
   integral; column generation keeps it small), with per-expert caps and minimum loads.
3. :mod:`~matching.planning.invitees` lists related enterprises, fitting investors and the
   institutions, and proposes the 1:1 pairs of a session.
4. :mod:`~matching.planning.agenda` places the sessions in the meeting's days, time slots and
   rooms so that nobody is in two sessions at once and each room holds its session.
   The solver (greedy with repair, exact ``milp`` fallback) is in
   :mod:`~matching.planning.placement`, the advice in :mod:`~matching.planning.advice`.
5. :mod:`~matching.planning.timetable` fits the kept pairs of a session into its rounds and
   tables, listing those that do not fit with the reason.

Any input the planner cannot honour raises :class:`PlanningError`, never a partial result.
No Flask, no SQLAlchemy.
"""

from matching.planning.agenda import place_sessions
from matching.planning.invitees import invite_others, keep_one_place, propose_pairs
from matching.planning.plan_records import PlanningError
from matching.planning.seats import assign_experts, session_affinity
from matching.planning.sessions import plan_sessions
from matching.planning.themes import bigram_analyze
from matching.planning.timetable import fit_rounds, schedule_meetings

__all__ = [
    "PlanningError",
    "assign_experts",
    "bigram_analyze",
    "fit_rounds",
    "invite_others",
    "keep_one_place",
    "place_sessions",
    "plan_sessions",
    "propose_pairs",
    "schedule_meetings",
    "session_affinity",
]
