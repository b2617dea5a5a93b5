"""Fixtures shared with the page tests."""

from tests.views.test_demand_views import world  # noqa: F401 (a fixture)
