"""Fixtures of the service tests (records the import tests read)."""

from tests.services.import_files import enterprises, institutions  # noqa: F401
