"""The profile form of an expert (新增 / 编辑专家): every field checked by the expert writer's rule.

The form reads what the page posts and refuses each bad field with the message of
``experts.EXPERT_FIELD_CHECKS`` and ``experts.check_items`` (the API push and the importer
go through the same checks in ``experts.validate``), next to the field, on the server. Rules
that need the database (the institution, the technical field, a namesake, "something to match
on") are answered by ``experts.validate`` when the view hands it `writer_input()`.
"""

from __future__ import annotations

from typing import Any

from wtforms import Field, StringField, TextAreaField
from wtforms.utils import unset_value
from wtforms.validators import ValidationError

from ..services import expert_writer
from .programme_forms import ProgrammeForm
from .service_checks import CheckBox, ServiceCheck

#: The keys of an item row, posted as the parallel lists item_kind, item_title, ...
ITEM_KEYS = ("kind", "title", "year", "text")


def blank_item() -> dict[str, str]:
    """Return an empty item row (a 项目 until the user picks another type)."""
    return {"kind": "project", "title": "", "year": "", "text": ""}


class ItemRows(Field):
    """The 成果 rows of the page, posted as parallel lists; `.data` is a list of row dicts."""

    def process(self, formdata: Any, data: Any = unset_value,
                extra_filters: Any = None) -> None:
        """Read the rows from the posted lists, or take them from `data` (a profile shown)."""
        self.process_errors: list[Any] = []
        self.row_errors: dict[str, str] = {}
        self.object_data, self.raw_data = data, None
        if formdata is None:
            self.data = [dict(row) for row in data] if data not in (unset_value, None) else []
            return
        lists = {key: formdata.getlist(f"item_{key}") for key in ITEM_KEYS}
        count = max(len(values) for values in lists.values())
        self.data = [{key: (lists[key][n] if n < len(lists[key]) else "").strip()
                      for key in ITEM_KEYS} for n in range(count)]


def _item_rule(form: Any, field: ItemRows) -> None:
    """Check the rows with the writer's item rule; keep each message under its row's key."""
    _rows, field.row_errors = expert_writer.check_items(field.data)
    if field.row_errors:
        raise ValidationError(next(iter(field.row_errors.values())))


def _checked(label: str, name: str, kind: type = StringField) -> Any:
    return kind(label, [ServiceCheck(expert_writer.EXPERT_FIELD_CHECKS[name])])


class ExpertForm(ProgrammeForm):
    """An expert's profile and items as typed; `writer_input()` is what the writer validates."""

    name = _checked("姓名", "name")
    institution_id = StringField("所在单位")  # the writer decides (a campus liaison: its own)
    title = _checked("职称/职务", "title")
    team = _checked("团队", "team")
    tech_field_id = _checked("技术领域", "tech_field_id")
    research_fields = _checked("研究方向", "research_fields", TextAreaField)
    summary = _checked("简介", "summary", TextAreaField)
    is_academician = CheckBox("院士")
    phone = _checked("联系电话", "phone")
    email = _checked("电子邮箱", "email")
    items = ItemRows("成果", [_item_rule])

    def errors_by_field(self) -> dict[str, str]:
        """Return the first message of each field, item rows under "items-<n>-<key>"."""
        out = super().errors_by_field()
        out.pop("items", None)
        return out | self.items.row_errors

    def writer_input(self) -> dict[str, Any]:
        """Return the profile as typed for ``experts.validate`` (institution aside)."""
        out = {name: ("" if field.data is None else field.data)
               for name, field in self._fields.items() if name != "institution_id"}
        out["items"] = list(self.items.data)
        return out
