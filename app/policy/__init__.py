"""The service's rules in one place, with no Flask: roles, statuses, scope, access, privacy.

Pages, the API, exports, warnings and the dashboard ask this package; nothing else decides who
may see or do what, or what a status is called.
"""
