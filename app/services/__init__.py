"""Use cases: take a session, call models and matching, never commit."""
