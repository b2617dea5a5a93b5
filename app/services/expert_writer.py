"""The one writer of experts and their items: the form, the API push and the importer.

Validation is here once (phone, e-mail, lengths, item kinds, years and count), institution
names are normalised so "武汉大学 " or a full-width variant never makes a second institution,
and a partial write (API push, import) changes only the fields it was given. A save that
changes an expert writes one 操作日志 row (app/services/audit.py ``record``); an import writes
one row for its whole run instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Expert, ExpertItem, Institution, TechField

from .audit import record
from .fields import (
    MAX_ITEMS,
    FieldError,
    check_email,
    check_id,
    check_phone,
    check_year,
    clean_text,
    normalise_name,
)
from .indexing import EXPERTS, bump_version, refresh_expert_tokens

ITEM_KIND_LABELS = {"project": "项目", "paper": "论文", "patent": "专利", "award": "奖励"}
ITEM_KINDS = {label: kind for kind, label in ITEM_KIND_LABELS.items()}
#: Text fields of a profile: (key, label, max length).
TEXT_FIELDS = (("title", "职称/职务", 60), ("team", "团队", 120),
               ("research_fields", "研究方向", 20000), ("summary", "简介", 20000))
#: Fields an API push or an import may leave out; what is left out is kept.
EXPERT_FIELDS = ("title", "research_fields", "summary", "team", "tech_field_id",
                 "is_academician", "phone", "email")


@dataclass
class ExpertInput:
    """A validated change to one expert: only the fields that were given."""

    name: str
    institution_id: int | None
    values: dict[str, Any] = field(default_factory=dict)
    items: list[tuple[str, str, str | None, int | None]] | None = None  # None: keep
    errors: dict[str, str] = field(default_factory=dict)


def find_institution(session: Session, name: str, *, create: bool = False) -> Institution | None:
    """Return the institution of a name compared in normal form; create it when asked."""
    wanted = normalise_name(name)
    if not wanted:
        return None
    found = session.scalar(select(Institution).where(Institution.name == wanted))
    if found is None:
        for inst in session.scalars(select(Institution)):
            if normalise_name(inst.name) == wanted:
                return inst
    if found is None and create:
        found = Institution(name=wanted)
        session.add(found)
        session.flush()
    return found


def _name(value: Any) -> str:
    """Return an expert's name as stored; a profile always has one."""
    return normalise_name(clean_text(value, "name", "专家姓名", max_len=40, required=True))


def _optional_text(value: Any, field: str, label: str, max_len: int) -> str | None:
    return clean_text(value, field, label, max_len=max_len) or None


#: The field rules of a profile, one per field, for the page's form, the API push and the
#: importer alike: value as typed or sent -> clean value, or `FieldError` in Chinese. Rules that
#: need the database (the institution, the technical field, a namesake) stay in `validate`.
EXPERT_FIELD_CHECKS: dict[str, Callable[[Any], Any]] = {
    "name": _name,
    **{key: partial(_optional_text, field=key, label=label, max_len=limit)
       for key, label, limit in TEXT_FIELDS},
    "phone": check_phone,
    "email": check_email,
    "tech_field_id": partial(check_id, field="tech_field_id", label="技术领域"),
}


def check_items(raw: Iterable[Mapping[str, Any]]) -> tuple[list[tuple], dict[str, str]]:
    """Return an expert's items as stored and the problems as {"items-<n>-<key>": message}.

    Rows are dicts of kind (code or Chinese label), title, year and text; an empty row (a form's
    blank line) is ignored.
    """
    errors: dict[str, str] = {}
    out: list[tuple] = []
    rows = list(raw)
    if len(rows) > MAX_ITEMS:
        errors["items"] = f"成果最多 {MAX_ITEMS} 项（现为 {len(rows)} 项）。"
        return out, errors
    for n, item in enumerate(rows):
        title, text, year = item.get("title"), item.get("text"), item.get("year")
        if not (title or text or year not in (None, "")):
            continue
        kind = item.get("kind") or ""
        kind = ITEM_KINDS.get(kind, kind)
        if kind not in ITEM_KIND_LABELS:
            errors[f"items-{n}-kind"] = "类型应为 项目、论文、专利 或 奖励。"
        try:
            title = clean_text(title, f"items-{n}-title", "标题", max_len=300, required=True)
            text = clean_text(text, f"items-{n}-text", "内容") or None
            year = check_year(year, f"items-{n}-year")
        except FieldError as exc:
            errors[exc.field] = exc.message
            continue
        out.append((kind, title, text, year))
    return out, errors


def validate(session: Session, data: Mapping[str, Any], *, institution_id: int | None,
             expert: Expert | None = None, partial: bool = False) -> ExpertInput:
    """Check an expert's fields; collect every problem as {field: Chinese message}.

    `partial`: only the keys present in `data` are checked and later written (API push,
    import); blank phone or e-mail in a partial write keeps the stored one.
    """
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}

    def check(key: str) -> Any:
        try:
            return EXPERT_FIELD_CHECKS[key](data.get(key))
        except FieldError as exc:
            errors[exc.field] = exc.message
            return None

    name = check("name") or ""
    if institution_id is None or session.get(Institution, institution_id) is None:
        errors["institution_id"] = "请选择所在单位。"
    for key in (*(key for key, _label, _limit in TEXT_FIELDS), "phone", "email"):
        if partial and key not in data:
            continue
        if partial and key in ("phone", "email") and not data.get(key):
            continue  # a push or an import never blanks a contact it did not send
        values[key] = check(key)
    if not partial or "tech_field_id" in data:
        values["tech_field_id"] = field_id = check("tech_field_id")
        if field_id is not None and session.get(TechField, field_id) is None:
            errors["tech_field_id"] = "技术领域不存在。"
    if not partial or data.get("is_academician") is not None:
        values["is_academician"] = bool(data.get("is_academician"))
    items = None
    if not partial or data.get("items") is not None:
        items, item_errors = check_items(data.get("items") or [])
        errors.update(item_errors)
    if not partial and not (values.get("research_fields") or values.get("summary") or items):
        errors["research_fields"] = "请至少填写研究方向、简介或一项成果，否则无法为该专家匹配需求。"
    if name and institution_id is not None and "name" not in errors:
        other = session.scalar(select(Expert.id).where(Expert.institution_id == institution_id,
                                                       Expert.name == name))
        if other is not None and expert is not None and other != expert.id:
            errors["name"] = "本单位已有同名专家，请核对或在姓名后加以区分。"
        if other is not None and expert is None and not partial:
            errors["name"] = "本单位已有同名专家，请核对或在姓名后加以区分。"
    return ExpertInput(name=name, institution_id=institution_id, values=values, items=items,
                       errors=errors)


#: The log's Chinese names of the fields; long texts and contacts are logged as changed only.
LOG_LABELS = {"name": "姓名", "title": "职称/职务", "team": "团队", "tech_field_id": "技术领域",
              "is_academician": "是否院士", "research_fields": "研究方向", "summary": "简介",
              "phone": "联系电话", "email": "电子邮箱", "items": "成果"}
_LOGGED_AS_CHANGED = ("research_fields", "summary", "phone", "email")
_CHANGED = "（已修改）"


def _logged_fields(expert: Expert) -> dict[str, Any]:
    values = {key: getattr(expert, key) for key in LOG_LABELS if key != "items"}
    return values | {"items": len(expert.items)}


def _shown(session: Session, key: str, value: Any) -> Any:
    if key == "tech_field_id":
        tech = session.get(TechField, value) if value else None
        return tech.name if tech else ""
    if key == "is_academician":
        return "是" if value else "否"
    if key == "items":
        return f"{value} 项"
    return value or ""


def _log(session: Session, user: Any, expert: Expert, created: bool,
         before: dict[str, Any]) -> None:
    """Write the save's one log row: for an update the fields that changed, from and to."""
    after = _logged_fields(expert)
    keys = [k for k in after if created and after[k] or not created and before[k] != after[k]]
    old = {LOG_LABELS[k]: _shown(session, k, before[k]) for k in keys
           if not created and k not in _LOGGED_AS_CHANGED}
    new = {LOG_LABELS[k]: _CHANGED if k in _LOGGED_AS_CHANGED else _shown(session, k, after[k])
           for k in keys}
    institution = session.get(Institution, expert.institution_id)
    record(session, user, "expert.create" if created else "expert.update", "expert", expert.id,
           before=old or None, after={"所在单位": institution.name if institution else "",
                                      **new} if created else new)


def save(session: Session, change: ExpertInput, expert: Expert | None = None, *,
         log: bool = True, bump: bool = True, user: Any = None) -> tuple[Expert, bool]:
    """Write a validated change; return (expert, whether anything changed). Never commits.

    A change is logged (one row, ``user`` or the request's user) unless ``log`` is False (an
    import logs its whole run).
    """
    if change.errors:
        raise ValueError("save() needs a change without errors")
    created = expert is None
    before = {} if expert is None else _logged_fields(expert)
    if expert is None:
        expert = Expert(name=change.name, institution_id=change.institution_id,
                        is_academician=False)
        session.add(expert)
    changed = created
    for key, value in ({"name": change.name} | change.values).items():
        if getattr(expert, key) != value:
            setattr(expert, key, value)
            changed = True
    if change.items is not None:
        old = [(i.kind, i.title, i.text, i.year) for i in expert.items]
        if old != change.items:
            expert.items = [ExpertItem(position=p, kind=k, title=t, text=x, year=y)
                            for p, (k, t, x, y) in enumerate(change.items)]
            changed = True
    if changed:
        refresh_expert_tokens(expert)
        if bump:  # a single write; a batch (import) bumps once and flushes at its end
            bump_version(session, EXPERTS)
        if log:
            session.flush()
            _log(session, user, expert, created, before)
    return expert, changed
