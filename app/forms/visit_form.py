"""The visit form (走访记录): answers in Chinese next to the field, dates typed 年-月-日."""

from __future__ import annotations

from wtforms import StringField, TextAreaField
from wtforms.validators import InputRequired, Length

from .programme_forms import DayField, ProgrammeForm


class VisitForm(ProgrammeForm):
    """A visit: day, whom the liaison met, what was found, what follows."""

    visited_on = DayField("走访日期", [InputRequired(message="请填写走访日期")])
    people_met = StringField("接待人员", [InputRequired(message="请填写接待人员"),
                                      Length(max=200, message="接待人员不超过200个字")])
    findings = TextAreaField("了解情况", [InputRequired(message="请填写走访了解到的情况"),
                                      Length(max=4000, message="了解情况不超过4000个字")])
    follow_up = TextAreaField("后续跟进", [Length(max=2000, message="后续跟进不超过2000个字")])
