"""Forms of the registries (企业库, 园区/孵化器, 创投机构, 高校院所), answering in Chinese."""

from __future__ import annotations

from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from ..services.fields import check_email, check_phone
from .programme_forms import ProgrammeForm, ZhDecimal
from .service_checks import ServiceCheck


class EnterpriseForm(ProgrammeForm):
    """An enterprise: name, credit code, key flag, address and the contact (private tier)."""

    name = StringField("企业名称", [InputRequired(message="请填写企业名称"),
                                Length(max=120, message="企业名称不超过120个字")])
    credit_code = StringField("统一社会信用代码", [Optional(), Length(
        min=18, max=18, message="统一社会信用代码应为18位")])
    is_key = BooleanField("重点企业")
    address = StringField("地址", [Length(max=200, message="地址不超过200个字")])
    contact_person = StringField("联系人", [Length(max=40, message="联系人不超过40个字")])
    contact_phone = StringField("联系电话", [Optional(), ServiceCheck(check_phone)])
    contact_email = StringField("电子邮箱", [Optional(), ServiceCheck(check_email)])


class ParkForm(ProgrammeForm):
    """A park or incubator."""

    name = StringField("名称", [InputRequired(message="请填写园区名称"),
                              Length(max=100, message="名称不超过100个字")])


class InvestorForm(ProgrammeForm):
    """A venture-capital firm and its preferences."""

    name = StringField("机构名称", [InputRequired(message="请填写机构名称"),
                                Length(max=120, message="机构名称不超过120个字")])
    ticket_min = ZhDecimal("单笔投资下限（万元）", [Optional(), NumberRange(
        min=0, message="金额不能为负数")])
    ticket_max = ZhDecimal("单笔投资上限（万元）", [Optional(), NumberRange(
        min=0, message="金额不能为负数")])
    focus = TextAreaField("投资偏好", [Length(max=2000, message="投资偏好不超过2000个字")])
    contact_person = StringField("联系人", [Length(max=40, message="联系人不超过40个字")])
    contact_phone = StringField("联系电话", [Optional(), ServiceCheck(check_phone)])


class InstitutionForm(ProgrammeForm):
    """A university or research institute."""

    name = StringField("名称", [InputRequired(message="请填写名称"),
                              Length(max=100, message="名称不超过100个字")])
    city = StringField("所在城市", [Length(max=20, message="城市不超过20个字")])
