"""Forms of the roster, replacement, training, case and assessment pages.

Every form answers in Chinese next to the field on the server (`errors()`), so the pages set
`novalidate` and never rely on the browser's bubbles; dates are typed 年-月-日 (2026-03-01) in
a text box, whatever the browser's language. The service behind each form keeps the rules
that need the database (a park of another district, a duplicate assessment).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from wtforms import Form, StringField, TextAreaField
from wtforms.fields import DecimalField, IntegerField
from wtforms.validators import (
    AnyOf,
    InputRequired,
    Length,
    NumberRange,
    Optional,
)

from ..services.fields import check_email, check_phone
from ..services.programme.rules import ASSESSMENT_RESULTS
from .service_checks import ServiceCheck

DAY_HINT = "年-月-日，如 2026-03-01"
DAY_PATTERN = r"\d{4}-\d{2}-\d{2}"


class DayField(StringField):
    """A day typed as 年-月-日 in a text box; `.data` is a `date` or None."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Parse YYYY-MM-DD; a wrong value keeps the text and reports in Chinese."""
        self.raw = (valuelist[0] if valuelist else "") or ""
        text = str(self.raw).strip()
        self.data = None
        if not text:
            return
        try:
            self.data = date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{self.label.text}应按 年-月-日 填写，如 2026-03-01") from None

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        return self.data.isoformat() if isinstance(self.data, date) else ""


class _ZhNumber:
    """Report a number that does not parse in Chinese, naming the field."""

    def process_formdata(self, valuelist: list[Any]) -> None:  # type: ignore[override]
        """Parse the number; an unreadable value becomes a Chinese error."""
        if valuelist and str(valuelist[0]).strip() == "":
            self.data = None
            return
        try:
            super().process_formdata(valuelist)  # type: ignore[misc]
        except ValueError:
            self.data = None
            raise ValueError(f"{self.label.text}应填写数字") from None


class ZhInteger(_ZhNumber, IntegerField):
    """An integer field with a Chinese parse error."""


class ZhDecimal(_ZhNumber, DecimalField):
    """A decimal field with a Chinese parse error."""


def _required(label: str) -> InputRequired:
    return InputRequired(message=f"请填写{label}")


class ProgrammeForm(Form):
    """A form that reports its errors as {field: first message} for the page's macros."""

    def errors_by_field(self) -> dict[str, str]:
        """Return the first Chinese message of each field in error."""
        return {name: messages[0] for name, messages in self.errors.items() if messages}




class LiaisonForm(ProgrammeForm):
    """Attachment 2's roster fields of a liaison."""

    name = StringField("姓名", [_required("姓名"), Length(max=40, message="姓名不超过40个字")])
    employer_post = StringField("工作单位及职务",
                                [Length(max=120, message="工作单位及职务不超过120个字")])
    phone = StringField("联系电话", [Optional(), ServiceCheck(check_phone)])
    email = StringField("电子邮箱", [Optional(), ServiceCheck(check_email)])
    start_date = DayField("任职起始日期", [_required("任职起始日期")])


class ReplaceForm(LiaisonForm):
    """A replacement: the leaver's end and reason, the successor, the filing date."""

    end_date = DayField("离任日期", [_required("离任日期")])
    end_reason = StringField("离任原因", [_required("离任原因"),
                                       Length(max=200, message="离任原因不超过200个字")])
    start_date = DayField("任职起始日期", [Optional()])
    filed_on = DayField("备案日期", [Optional()])


class FilingForm(ProgrammeForm):
    """The day a replacement was filed with the city bureau."""

    filed_on = DayField("备案日期", [_required("备案日期")])


class TrainingForm(ProgrammeForm):
    """A training of a district: date, topic, head count, notes."""

    held_on = DayField("培训日期", [_required("培训日期")])
    topic = StringField("培训主题", [_required("培训主题"),
                                 Length(max=200, message="培训主题不超过200个字")])
    attendee_count = ZhInteger("参训总人数", [Optional(),
                                         NumberRange(min=0, message="参训总人数不能为负数")])
    notes = TextAreaField("地点与内容")


class CaseForm(ProgrammeForm):
    """A typical case: year, title, summary, liaison, enterprise, expert, amount."""

    year = ZhInteger("年度", [InputRequired(message="请填写年度"),
                            NumberRange(min=2000, max=2100, message="年度应在2000-2100之间")])
    title = StringField("案例标题", [_required("案例标题"),
                                 Length(max=200, message="案例标题不超过200个字")])
    summary = TextAreaField("案例简介")
    enterprise_name = StringField("企业", [Length(max=120, message="企业名称不超过120个字")])
    expert_name = StringField("专家", [Length(max=120, message="专家名称不超过120个字")])
    contract_amount = ZhDecimal("合同金额", [Optional(),
                                         NumberRange(min=0, message="合同金额不能为负数")])


class AssessmentForm(ProgrammeForm):
    """A liaison's yearly assessment: result, score, reviewer, day, comment."""

    result = StringField("考核结果", [InputRequired(message="请选择考核结果"),
                                   AnyOf(ASSESSMENT_RESULTS, message="请选择考核结果")])
    score = ZhDecimal("分数", [Optional(), NumberRange(min=0, max=100,
                                                   message="考核分数应在 0-100 之间")])
    reviewer = StringField("考核人", [_required("考核人"),
                                   Length(max=40, message="考核人不超过40个字")])
    assessed_on = DayField("考核日期", [_required("考核日期")])
    comment = TextAreaField("考核意见")

