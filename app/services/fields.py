"""Field rules shared by every writer (forms, the API, importers): one home for each limit.

Each ``check_*`` returns the clean value or raises :class:`FieldError` with a Chinese message
naming the field. Limits come from the model's column lengths where there is one.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date
from typing import Any

from matching import quality

from .. import clock
from ..errors import DomainError

#: Longest free text accepted in any field (problem, goals, summary, item text).
MAX_TEXT = 20000
#: Longest ranking text looked at; the rest is ignored (and said so). A demand's stored tokens
#: cover the same first characters (``indexing.demand_tokens``): nothing reads further.
MAX_QUERY_TEXT = 3000
MAX_KEYWORDS = quality.MAX_KEYWORDS
MAX_KEYWORD_LEN = quality.MAX_KEYWORD_CHARS
MAX_ITEMS = 100
#: Years an expert's item or a demand's deadline may carry.
MIN_YEAR = 1950
#: Dates anywhere in the service (filters, deadlines, meetings).
MIN_DATE = date(1990, 1, 1)
MAX_DATE = date(2100, 12, 31)
#: Ids beyond a 32-bit integer name no row on any database.
MAX_ID = 2**31 - 1
MAX_AMOUNT = 1e9  # 万元

PHONE_RE = re.compile(r"^\+?[0-9][0-9()（）\-/转 ]{4,29}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SPACES = re.compile(r"\s+")
_INVISIBLE = re.compile("[\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")


class FieldError(DomainError):
    """A value broke a field rule; `field` names the field, `message` says what to change."""

    status = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, field=field)


def bad_characters(text: str) -> str | None:
    """Return a Chinese description of characters no field may hold, or None."""
    if "\x00" in text:
        return "含有空字符（\\0）"
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        return "含有无效的 Unicode 字符（孤立代理项）"
    if any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r" for ch in text):
        return "含有控制字符"
    return None


def clean_text(value: Any, field: str, label: str, *, max_len: int = MAX_TEXT,
               required: bool = False) -> str:
    """Return stripped text; refuse control characters, over-long or missing values."""
    text = "" if value is None else str(value)
    problem = bad_characters(text)
    if problem:
        raise FieldError(field, f"{label}{problem}，请删除后重试。")
    text = text.strip()
    if required and not text:
        raise FieldError(field, f"请填写{label}。")
    if len(text) > max_len:
        raise FieldError(field, f"{label}不能超过 {max_len} 字（现为 {len(text)} 字）。")
    return text


def normalise_name(value: Any) -> str:
    """Return a name as stored: NFKC (full-width to half-width), invisible marks dropped,
    runs of white space folded, ends stripped ("武汉大学 " and "武汉大学" are one name)."""
    text = unicodedata.normalize("NFKC", "" if value is None else str(value))
    text = _INVISIBLE.sub("", text)
    return _SPACES.sub(" ", text).strip()


def check_phone(value: Any, field: str = "phone", label: str = "联系电话") -> str | None:
    """Return a phone number or None; refuse what is not one."""
    return _check_pattern(value, field, label, 30, PHONE_RE, "13812345678 或 027-68751234")


def check_email(value: Any, field: str = "email", label: str = "电子邮箱") -> str | None:
    """Return an e-mail address or None; refuse what is not one."""
    return _check_pattern(value, field, label, 120, EMAIL_RE, "zhangsan@whu.edu.cn")


def _check_pattern(value: Any, field: str, label: str, max_len: int, pattern: re.Pattern[str],
                   example: str) -> str | None:
    text = clean_text(value, field, label, max_len=max_len)
    if not text:
        return None
    if not pattern.match(text):
        raise FieldError(field, f"{label}格式不正确，如 {example}。")
    return text


def check_year(value: Any, field: str = "year", label: str = "年份") -> int | None:
    """Return a four-digit year between MIN_YEAR and next year, or None."""
    if value is None or value == "":
        return None
    try:
        year = int(str(value).strip())
    except ValueError:
        year = -1
    latest = clock.this_year() + 1
    if not MIN_YEAR <= year <= latest:
        raise FieldError(field, f"{label}应为 {MIN_YEAR} 至 {latest} 之间的四位数字。")
    return year


def check_number(value: Any, field: str, label: str, *, minimum: float = 0.0,
                 maximum: float = MAX_AMOUNT) -> float | None:
    """Return a finite number in [minimum, maximum] or None for blank."""
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise FieldError(field, f"{label}应为数字。") from None
    if not math.isfinite(number):
        raise FieldError(field, f"{label}应为有限的数字。")
    if number < minimum:
        raise FieldError(field, f"{label}不能小于 {minimum:g}。")
    if number > maximum:
        raise FieldError(field, f"{label}不能大于 {maximum:g}。")
    return number


def check_date(value: Any, field: str, label: str) -> date | None:
    """Return a date written 年-月-日 between MIN_DATE and MAX_DATE, or None for blank."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        day = value
    else:
        try:
            day = date.fromisoformat(str(value).strip())
        except ValueError:
            raise FieldError(field, f"{label}格式应为 年-月-日，如 2026-03-01。") from None
    if not MIN_DATE <= day <= MAX_DATE:
        raise FieldError(field, f"{label}应在 {MIN_DATE} 至 {MAX_DATE} 之间。")
    return day


def check_keywords(value: Any, field: str = "keywords") -> list[str]:
    """Return the distinct keywords typed, under the one keyword rule of matching/quality.py.

    A draft may have none yet (the effectiveness check asks for them at submission); more than
    MAX_KEYWORDS or one longer than MAX_KEYWORD_LEN is refused from every source.
    """
    if value is not None and not isinstance(value, str | list | tuple):
        raise FieldError(field, "关键词格式不正确。")
    words = quality.split_keywords(value)
    for word in words:
        clean_text(word, field, "关键词", max_len=10**6)
    broken = [h for h in quality.check_keywords(words)
              if h.code in ("too_many_keywords", "keyword_too_long")]
    if broken:
        raise FieldError(field, broken[0].message)
    return words


def check_id(value: Any, field: str, label: str) -> int | None:
    """Return an id in the columns' range, or None for blank; refuse anything else."""
    if value is None or value == "":
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        raise FieldError(field, f"{label}应为编号数字。") from None
    if not 1 <= number <= MAX_ID:
        raise FieldError(field, f"{label}不存在。")
    return number
