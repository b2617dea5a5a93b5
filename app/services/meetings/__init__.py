"""Matchmaking meetings (需求对接会): the glue between the database and the pure planner.

The planner (:mod:`matching.planning`) works on plain records; this package loads the published
demands an organiser picks, scores every expert against them with the app's ranker, calls the
planner's steps and writes the result. Services never commit (the request does, once), and the
planner's :class:`PlanningError` is raised before a single row is written, so a refused plan
leaves the database as it was.

Modules by job: :mod:`.inputs` (the plan form), :mod:`.access` (who organises what),
:mod:`.context` (loading demands and affinity), :mod:`.plan` (plan and re-plan),
:mod:`.write` (writing a plan), :mod:`.agenda` (days, slots and rooms), :mod:`.jobs` (planning
as a background job), :mod:`.edit` (the organiser's edits), :mod:`.outcomes` (after the
meeting), :mod:`.read` (pages), :mod:`.exports` (xlsx, ics).

Keys: a saved session is known to the planner as ``K<id>``; new sessions get the planner's own
keys (``S01`` ...) and become rows.
"""
