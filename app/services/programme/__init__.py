"""The programme's books and the rules of the notice (docs/programme.md), by job:

- ``rules``: targets of the notice, the year's phase, how a count is judged (达标 / 进度正常 /
  有风险 / 未达标 / 不适用); no database.
- ``queries``: the queries the others share (districts, liaisons serving in a year, signings).
- ``scoreboard``: every rule per district, liaison and city for a year.
- ``dashboard``: funnel, monthly trends, the years with data, drill-downs.
- ``quota``: attachment 1, the quota table.
- ``roster``: attachment 2, the roster, assignments and replacements.
- ``books``: trainings, typical cases and assessments.
- ``home``: the figures of the home page, taken from the scoreboard.

Services take a session and never commit.
"""
