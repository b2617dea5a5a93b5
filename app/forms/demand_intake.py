"""The intake form of a demand (登记 / 编辑需求): every field checked by the workflow's rule.

The form reads what the page posts and refuses each bad field with the message of
``workflow.DEMAND_FIELD_CHECKS`` (the API's create and edit call the same checks through
``workflow._apply``), next to the field, on the server. Rules that need the database (an
enterprise of another district, an industry that does not exist) are answered by the workflow
when the demand is written. The effectiveness check (``workflow.check_quality``) is not a
field rule: it decides submission, not saving.
"""

from __future__ import annotations

from typing import Any

from wtforms import StringField, TextAreaField

from ..services import workflow
from .programme_forms import ProgrammeForm
from .service_checks import CheckBox, ServiceCheck

#: What the page calls each field (the form's labels and the effectiveness panel's hints).
LABELS = {
    "title": "需求名称", "enterprise_name": "需求企业", "enterprise_id": "需求企业",
    "contact_person": "企业联系人", "contact_phone": "联系电话", "contact_email": "电子邮箱",
    "problem": "技术难题", "goals": "预期目标与指标", "investment": "计划投入（万元）",
    "industry_id": "所属行业", "tech_field_id": "技术领域", "keywords": "关键词",
    "cooperation_mode": "合作方式", "deadline": "截止日期", "publishable": "可公开发布",
}


def _text(name: str, kind: type = StringField) -> Any:
    return kind(LABELS[name], [ServiceCheck(workflow.DEMAND_FIELD_CHECKS[name])])


class DemandForm(ProgrammeForm):
    """A demand as the liaison types it; `workflow_input()` is what the workflow writes."""

    title = _text("title")
    enterprise_name = _text("enterprise_name")
    new_enterprise = CheckBox("按所填名称新建企业")
    contact_person = _text("contact_person")
    contact_phone = _text("contact_phone")
    contact_email = _text("contact_email")
    industry_id = _text("industry_id")
    tech_field_id = _text("tech_field_id")
    problem = _text("problem", TextAreaField)
    goals = _text("goals", TextAreaField)
    investment = _text("investment")
    keywords = _text("keywords")
    cooperation_mode = _text("cooperation_mode")
    deadline = _text("deadline")
    publishable = CheckBox(LABELS["publishable"])

    def workflow_input(self) -> dict[str, Any]:
        """Return the fields as typed for ``workflow.create_demand`` / ``update_demand``."""
        out: dict[str, Any] = {name: ("" if field.data is None else field.data)
                               for name, field in self._fields.items()}
        for name in ("investment", "deadline"):
            out[name] = str(out[name]).strip()
        return out
