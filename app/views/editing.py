"""The add/edit page every registry and book shares: parse the form, call the one writer,
flash and redirect on success, or show the page again with the errors next to the fields.

A page re-shown with errors answers 422, so the request's unit of work (app/db.py) rolls back
whatever the writer had flushed; a refusal (403) is an error page, not a form error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import flash, redirect, render_template, request

from ..errors import DomainError, Forbidden
from ..forms.programme_forms import ProgrammeForm
from ..services.listing import field_errors

#: Status code of a page re-shown with field errors: the request's unit of work rolls back.
INVALID = 422


def edit_page(form_class: type[ProgrammeForm], save: Callable[[Any], Any], *, template: str,
              saved: Callable[[Any], str], done: Callable[[Any], str],
              context: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
              check: Callable[[], dict[str, str]] | None = None):
    """Show an add/edit form (GET) or save it (POST).

    ``save(form)`` calls the writer and returns the saved row (a DomainError becomes field
    errors); ``saved(row)`` is the success message and ``done(row)`` the page to go to;
    ``check()`` returns errors found before the form is read (a district to choose);
    ``context`` (or a function returning it, called after a failed save) is passed to
    ``template`` with ``errors`` and ``form``.
    """
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        errors = check() if check is not None else {}
        form = form_class(request.form)
        if not errors and not form.validate():
            errors = form.errors_by_field()
        if not errors:
            try:
                row = save(form)
            except Forbidden:
                raise
            except DomainError as exc:
                errors = field_errors(exc)
            else:
                flash(saved(row), "success")
                return redirect(done(row))
        status = INVALID
    extra = context() if callable(context) else (context or {})
    return render_template(template, errors=errors, form=request.form, **extra), status
