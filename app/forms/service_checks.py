"""The bridge from a form field to the service function that owns its rule.

A form class of a page whose entity has a writer in `app/services/` invents no rule: each field
names the writer's check (``workflow.DEMAND_FIELD_CHECKS``, ``experts.EXPERT_FIELD_CHECKS``, which
call `app/services/fields.py` and `matching/quality.py`), so the page refuses a value with the
very message the API answers for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wtforms import BooleanField
from wtforms.validators import StopValidation

from ..services.fields import FieldError


class ServiceCheck:
    """Validate a field with the service's check of that field; its `FieldError` is the message.

    `check` takes the value as typed and returns it clean (unused here: the writer cleans it
    again when it saves) or raises :class:`FieldError` with the Chinese message.
    """

    def __init__(self, check: Callable[[Any], Any]) -> None:
        self.check = check

    def __call__(self, form: Any, field: Any) -> None:
        try:
            self.check(field.data)
        except FieldError as exc:
            raise StopValidation(exc.message) from None


class CheckBox(BooleanField):
    """A check box: ticked when it sends 1, on, true or y (what the pages send), else not."""

    TICKED = ("1", "on", "true", "y")

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Read the box as ticked only for the values a ticked box sends."""
        self.data = bool(valuelist) and str(valuelist[0]) in self.TICKED
