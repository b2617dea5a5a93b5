"""The status badges read their labels from the one label table (app/policy/statuses.py)."""

from __future__ import annotations

import re

from app.policy.statuses import STATUS_LABELS


def test_every_badge_shows_the_policy_label(app):
    with app.test_request_context():
        macros = app.jinja_env.get_template("_macros.html").module
        for kind, labels in STATUS_LABELS.items():
            for status, label in labels.items():
                html = str(macros.status_badge(status, kind))
                assert re.search(rf'data-status="{status}">{label}</span>', html), (kind, status)
                assert "text-bg-secondary" not in html or status in ("draft", "declined"), html
                assert str(macros.status_label(status, kind)) == label
        assert "已提交" not in str(macros.status_badge("submitted", "demand"))
        assert str(macros.status_label("unknown", "demand")) == "unknown"
        assert "启用" in str(macros.status_badge(True, "active"))
