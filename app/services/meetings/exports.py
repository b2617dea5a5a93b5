"""Exports of a matchmaking meeting: agenda and invitation lists (.xlsx), one .ics per session.

The .ics files are written by hand after RFC 5545: CRLF line ends, content lines folded at 75
octets without splitting a UTF-8 character, TEXT values escaped (backslash, comma, semicolon,
newline), times in UTC (``...Z``) so that every calendar shows them in its own zone.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy.orm import Session

from app import clock
from app.errors import DomainError
from app.security import can_see_contact, can_see_expert_contact, mask_phone
from app.services.meetings import read
from models import MatchmakingMeeting, MeetingSession

HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value  # never a formula from user data
    return value


def _width(value: Any) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in str(value if value is not None else ""))


def _sheet(wb: Workbook, title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]],
           first: bool = False) -> None:
    ws = wb.active if first else wb.create_sheet()
    ws.title = title[:31]
    ws.append(list(headers))
    for c in ws[1]:
        c.font = Font(bold=True)
        c.fill = HEADER_FILL
        c.alignment = Alignment(horizontal="center", vertical="center")
    widths = [_width(h) for h in headers]
    for row in rows:
        values = [_cell(v) for v in row]
        ws.append(values)
        for i, v in enumerate(values[: len(widths)]):
            widths[i] = max(widths[i], min(_width(v), 60))
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = w + 2
    ws.freeze_panes = "A2"


def _save(wb: Workbook) -> bytes:
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _when(ms: MeetingSession) -> str:
    start, end = read.local(ms.starts_at), read.local(ms.ends_at)
    if start is None:
        return "待定"
    return f"{start:%Y-%m-%d %H:%M}–{end:%H:%M}" if end else f"{start:%Y-%m-%d %H:%M}"


def agenda_xlsx(session: Session, meeting: MatchmakingMeeting) -> bytes:
    """Return the agenda workbook: sessions with demands and experts, and the 1:1 timetable."""
    n = read.names(session, meeting)
    wb = Workbook()
    rows = []
    for ms in meeting.sessions:
        experts = [i for i in ms.invitations if i.kind == "expert"]
        for k, sd in enumerate(ms.demands):
            d = n.demands.get(sd.demand_id)
            ent = n.enterprises.get(d.enterprise_id) if d else None
            rows.append([ms.seq, ms.title, "、".join(ms.theme_words or []), _when(ms),
                         meeting.venue or "", d.code if d else "", d.title if d else "",
                         ent.name if ent else "",
                         "、".join(read.invitee_name(i, n) for i in experts) if k == 0 else ""])
    _sheet(wb, "议程", ["分场", "分场名称", "主题词", "时间", "地点", "需求编号", "需求名称",
                        "需求企业", "受邀专家"], rows, first=True)
    slots = []
    for ms in meeting.sessions:
        for s in sorted(ms.slots, key=lambda s: (s.slot, s.table_no)):
            d = n.demands.get(s.demand_id)
            e = n.experts.get(s.expert_id)
            ent = n.enterprises.get(d.enterprise_id) if d else None
            at = read.slot_time(meeting, ms, s.slot)
            inst = n.institutions.get(e.institution_id) if e else None
            slots.append([ms.seq, ms.title, s.slot + 1, f"{at:%H:%M}" if at else "",
                          s.table_no + 1, ent.name if ent else "", d.title if d else "",
                          e.name if e else "", (e.institution.name if e and e.institution else
                                                (inst.name if inst else ""))])
    _sheet(wb, "一对一洽谈", ["分场", "分场名称", "轮次", "开始时间", "桌号", "企业", "需求名称",
                             "专家", "专家单位"], slots)
    return _save(wb)


def invitations_xlsx(session: Session, meeting: MatchmakingMeeting, user: Any) -> bytes:
    """Return the invitation lists, one sheet per invitee kind, contact data by privacy tier."""
    n = read.names(session, meeting)
    wb = Workbook()
    experts, ents, invs, insts = [], [], [], []
    for ms in meeting.sessions:
        owners = read.owner_ids(ms)
        for i in ms.invitations:
            if i.kind == "enterprise" and i.enterprise_id in owners:
                continue  # on the 需求企业 sheet
            if i.kind == "expert" and i.expert_id in n.experts:
                e = n.experts[i.expert_id]
                phone = e.phone if can_see_expert_contact(user, e.institution_id) else (
                    mask_phone(e.phone))
                experts.append([ms.seq, ms.title, e.name, e.title or "",
                                e.institution.name if e.institution else "",
                                round(i.affinity, 3) if i.affinity is not None else "",
                                phone or "", i.locked, i.attended])
            elif i.kind == "enterprise" and i.enterprise_id in n.enterprises:
                ent = n.enterprises[i.enterprise_id]
                full = can_see_contact(user, ent.district_id)
                ents.append([ms.seq, ms.title, ent.name,
                             ent.industry.name if ent.industry else "",
                             ent.contact_person if full else ("***" if ent.contact_person else ""),
                             ent.contact_phone if full else mask_phone(ent.contact_phone),
                             i.attended])
            elif i.kind == "investor" and i.investor_id in n.investors:
                v = n.investors[i.investor_id]
                invs.append([ms.seq, ms.title, v.name,
                             "、".join(x.name for x in v.industries), "、".join(v.stages or []),
                             v.contact_person or "", v.contact_phone or "", i.attended])
            elif i.kind == "institution" and i.institution_id in n.institutions:
                inst = n.institutions[i.institution_id]
                insts.append([ms.seq, ms.title, inst.name, i.attended])
    _sheet(wb, "专家", ["分场", "分场名称", "姓名", "职称", "单位", "匹配度", "电话", "已锁定",
                        "签到"], experts, first=True)
    _sheet(wb, "相关企业", ["分场", "分场名称", "企业", "行业", "联系人", "电话", "签到"], ents)
    _sheet(wb, "创投机构", ["分场", "分场名称", "机构", "关注行业", "投资阶段", "联系人", "电话",
                            "签到"], invs)
    _sheet(wb, "高校院所", ["分场", "分场名称", "单位", "签到"], insts)
    # Demand owners come to every session too: list them where organisers look for invitees.
    owners = []
    for ms in meeting.sessions:
        came = {i.enterprise_id: i.attended for i in ms.invitations if i.kind == "enterprise"}
        for sd in ms.demands:
            d = n.demands.get(sd.demand_id)
            ent = n.enterprises.get(d.enterprise_id) if d else None
            if ent is None:
                continue
            full = can_see_contact(user, ent.district_id)
            owners.append([ms.seq, ms.title, ent.name, d.title,
                           ent.contact_person if full else ("***" if ent.contact_person else ""),
                           ent.contact_phone if full else mask_phone(ent.contact_phone),
                           came.get(ent.id)])
    _sheet(wb, "需求企业", ["分场", "分场名称", "企业", "需求名称", "联系人", "电话", "签到"],
           owners)
    return _save(wb)


# --- iCalendar (RFC 5545) ------------------------------------------------------------------------
def ics_escape(text: str) -> str:
    """Escape a TEXT value (RFC 5545 §3.3.11)."""
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def fold(line: str) -> str:
    """Fold a content line at 75 octets, never inside a UTF-8 character (RFC 5545 §3.1)."""
    out, current, size = [], "", 0
    limit = 75
    for ch in line:
        n = len(ch.encode("utf-8"))
        if size + n > limit:
            out.append(current)
            current, size = " ", 1  # continuation lines start with one space
        current += ch
        size += n
    out.append(current)
    return "\r\n".join(out)


def _utc(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def session_ics(session: Session, meeting: MatchmakingMeeting, ms: MeetingSession, *,
                host: str = "wuhan-kjcg", now: datetime | None = None) -> bytes:
    """Return a VCALENDAR with the session as one VEVENT (agenda and 1:1 timetable inside)."""
    start, end = read.local(ms.starts_at), read.local(ms.ends_at)
    if start is None or end is None:
        raise DomainError("对接会尚未确定日期，不能生成日历文件：请先填写会议日期并重新排期。",
                            field="held_on")
    n = read.names(session, meeting)
    lines_desc = [f"主题词：{'、'.join(ms.theme_words or [])}", "需求："]
    for sd in ms.demands:
        d = n.demands.get(sd.demand_id)
        if d is not None:
            ent = n.enterprises.get(d.enterprise_id)
            lines_desc.append(f"- {d.title}（{ent.name if ent else ''}）")
    experts = [read.invitee_name(i, n) for i in ms.invitations if i.kind == "expert"]
    lines_desc.append("受邀专家：" + "、".join(experts))
    if ms.slots:
        lines_desc.append("一对一洽谈：")
        for s in sorted(ms.slots, key=lambda s: (s.slot, s.table_no)):
            at = read.slot_time(meeting, ms, s.slot)
            d = n.demands.get(s.demand_id)
            e = n.experts.get(s.expert_id)
            lines_desc.append(f"{at:%H:%M} {s.table_no + 1}号桌 "
                              f"{d.title if d else ''} × {e.name if e else ''}")
    stamp = now or clock.now()
    props = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Wuhan S&T Bureau//Matchmaking Meetings//ZH",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:meeting-{meeting.id}-session-{ms.id}@{host}",
        f"DTSTAMP:{_utc(stamp)}",
        f"DTSTART:{_utc(start)}",
        f"DTEND:{_utc(end)}",
        f"SUMMARY:{ics_escape(f'{meeting.title}·{ms.title}')}",
        f"LOCATION:{ics_escape(meeting.venue or '')}",
        f"DESCRIPTION:{ics_escape(chr(10).join(lines_desc))}",
        "STATUS:" + ("CONFIRMED" if meeting.status in ("confirmed", "held") else "TENTATIVE"),
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return ("\r\n".join(fold(p) for p in props) + "\r\n").encode("utf-8")


def unfold(data: bytes) -> list[str]:
    """Parse .ics bytes back into unfolded content lines (for tests and checks)."""
    text = data.decode("utf-8")
    lines: list[str] = []
    for raw in text.split("\r\n"):
        if raw.startswith((" ", "\t")) and lines:
            lines[-1] += raw[1:]
        elif raw:
            lines.append(raw)
    return lines
