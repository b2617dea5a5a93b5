"""The one password policy, hashing and checking; no Flask.

Every way a password is set (user creation, an admin's reset, a user's own change, `flask
create-admin`) calls :func:`password_problem` through ``services.user_accounts``.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH = 8
MAX_LENGTH = 128
MIN_DISTINCT = 4  # "aaaaaaa1" has two
COMMON_PASSWORDS = Path(__file__).with_name("common_passwords.txt")
# Unicode categories a user cannot see or type on purpose: controls, format characters
# (zero-width space, joiners, bidi marks), separators other than the plain space, private use,
# unassigned and surrogates.
PASSWORD_HINT = (f"至少 {MIN_LENGTH} 位，须同时包含英文字母和数字；"
                 "不能是常见弱密码，不能包含用户名或不可见字符")
_INVISIBLE = {"Cc", "Cf", "Zl", "Zp", "Co", "Cn", "Cs"}


@cache
def common_passwords() -> frozenset[str]:
    """Return the shipped list of well-known weak passwords, lower-cased."""
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines
                     if line.strip() and not line.startswith("#"))


def password_problem(password: str | None, username: str | None = None) -> str | None:
    """Return the Chinese reason why `password` is refused, or None when it is acceptable."""
    password = password or ""
    if not password.strip():
        return "密码不能为空或只含空格。"
    for ch in password:
        category = unicodedata.category(ch)
        if category in _INVISIBLE or (category == "Zs" and ch != " "):
            return (f"密码不能包含不可见字符或控制字符（发现 U+{ord(ch):04X}），"
                    "请只使用键盘可直接输入的字符。")
    if len(password) < MIN_LENGTH:
        return f"密码至少 {MIN_LENGTH} 位（当前 {len(password)} 位）。"
    if len(password) > MAX_LENGTH:
        return f"密码不超过 {MAX_LENGTH} 位。"
    if not any(ch.isascii() and ch.isalpha() for ch in password) or not any(
            ch.isdigit() for ch in password):
        return "密码须同时包含英文字母和数字。"
    if len(set(password.lower())) < MIN_DISTINCT:
        return f"密码过于简单：至少包含 {MIN_DISTINCT} 个不同的字符。"
    lowered = password.lower()
    if lowered in common_passwords():
        return "该密码属于常见弱密码（如 password1、abc12345），容易被猜中，请换一个。"
    if username and len(username) >= 3 and username.lower() in lowered:
        return "密码不能包含用户名。"
    return None


def hash_password(password: str) -> str:
    """Hash a password with werkzeug (scrypt)."""
    return generate_password_hash(password)


def check_password(pw_hash: str, password: str) -> bool:
    """Check a password against its hash."""
    return check_password_hash(pw_hash, password)
