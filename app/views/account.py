"""个人中心: every signed-in user's profile, own password change and recent sign-ins."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from .. import clock
from ..auth.decorators import login_required
from ..auth.login_sessions import keep_current_session
from ..auth.passwords import PASSWORD_HINT
from ..db import get_session
from ..errors import DomainError
from ..services import user_accounts
from ..services.listing import field_errors

bp = Blueprint("account", __name__, url_prefix="/account")


def _me():
    return current_user._get_current_object()  # type: ignore[attr-defined]


@bp.get("")
@login_required
def profile():
    """Show one's own account, scope and the most recent sign-in attempts with this name."""
    user = _me()
    logins = user_accounts.recent_logins(get_session(), user, limit=20)
    return render_template("account/profile.html", user=user, logins=logins, fmt=clock.fmt)


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change one's own password (current password required); other sessions end."""
    user = _me()
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            user_accounts.change_own_password(user, request.form.get("current", ""),
                                         request.form.get("password", ""),
                                         request.form.get("password2", ""))
        except DomainError as exc:
            errors = field_errors(exc)
        else:
            keep_current_session(user)
            flash("密码已修改，其他设备上的登录已全部退出。", "success")
            return redirect(url_for("account.profile"))
    return render_template("account/password.html", errors=errors,
                           hint=PASSWORD_HINT), 422 if errors else 200
