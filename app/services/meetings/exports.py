"""Exports of a matchmaking meeting: agenda and invitation lists (.xlsx), one .ics per session.

The .ics files are written by hand after RFC 5545: CRLF line ends, content lines folded at 75
octets without splitting a UTF-8 character, TEXT values escaped (backslash, comma, semicolon,
newline), times in UTC (``...Z``) so that every calendar shows them in its own zone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from openpyxl import Workbook
from sqlalchemy.orm import Session

from app import clock
from app.errors import DomainError
from app.policy.privacy import can_read_expert_contact, can_see_contact, mask_phone
from app.services.meetings import read
from app.services.spreadsheets import workbook_bytes, write_table
from models import MatchmakingMeeting, MeetingSession


def _sheet(wb: Workbook, title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]],
           first: bool = False) -> None:
    ws = wb.active if first else wb.create_sheet()
    ws.title = title[:31]
    write_table(ws, headers, rows)


def _when(ms: MeetingSession) -> str:
    start, end = read.local(ms.starts_at), read.local(ms.ends_at)
    if start is None:
        return "待定"
    return f"{start:%Y-%m-%d %H:%M}–{end:%H:%M}" if end else f"{start:%Y-%m-%d %H:%M}"


def agenda_order(meeting: MatchmakingMeeting) -> list[MeetingSession]:
    """Return the sessions by day, time slot and room (unplaced sessions last)."""
    grid = read.agenda_view(meeting)
    slot_pos = {key: i for i, key in enumerate(grid.labels)}
    room_pos = {key: i for i, (key, _) in enumerate(grid.rooms)}
    return sorted(meeting.sessions, key=lambda ms: (
        slot_pos.get(ms.slot_key, len(slot_pos)), room_pos.get(ms.room, len(room_pos)), ms.seq))


def agenda_xlsx(session: Session, meeting: MatchmakingMeeting) -> bytes:
    """Return the agenda workbook: by day, slot and room; each session's demands; the 1:1 rounds."""
    n = read.names(session, meeting)
    grid = read.agenda_view(meeting)
    caps = dict(grid.rooms)
    wb = Workbook()
    ordered = agenda_order(meeting)
    rows = []
    for ms in ordered:
        experts = [i for i in ms.invitations if i.kind == "expert"]
        label = grid.labels.get(ms.slot_key, "未排入议程") if ms.slot_key else "未排入议程"
        rows.append([label.split(" ")[0], _when(ms), ms.room or "", caps.get(ms.room, ""),
                     ms.seq, ms.title, "、".join(ms.theme_words or []), len(ms.demands),
                     len(ms.invitations), "、".join(read.invitee_name(i, n) for i in experts)])
    _sheet(wb, "议程", ["日期", "时间", "会议室", "容纳人数", "分场", "分场名称", "主题词",
                        "需求数", "受邀人数", "受邀专家"], rows, first=True)
    demand_rows = []
    for ms in ordered:
        for sd in ms.demands:
            d = n.demands.get(sd.demand_id)
            ent = n.enterprises.get(d.enterprise_id) if d else None
            demand_rows.append([ms.seq, ms.title, _when(ms), ms.room or "", meeting.venue or "",
                                d.code if d else "", d.title if d else "",
                                ent.name if ent else ""])
    _sheet(wb, "分场需求", ["分场", "分场名称", "时间", "会议室", "地点", "需求编号", "需求名称",
                            "需求企业"], demand_rows)
    slots = []
    for ms in ordered:
        for s in sorted(ms.slots, key=lambda s: (s.slot, s.table_no)):
            d = n.demands.get(s.demand_id)
            e = n.experts.get(s.expert_id)
            ent = n.enterprises.get(d.enterprise_id) if d else None
            at = read.slot_time(meeting, ms, s.slot)
            inst = n.institutions.get(e.institution_id) if e else None
            slots.append([f"{at:%Y-%m-%d}" if at else "", f"{at:%H:%M}" if at else "",
                          ms.room or "", ms.seq, ms.title, s.slot + 1, s.table_no + 1,
                          ent.name if ent else "", d.title if d else "", e.name if e else "",
                          inst.name if inst else ""])
    _sheet(wb, "一对一洽谈", ["日期", "开始时间", "会议室", "分场", "分场名称", "轮次", "桌号",
                             "企业", "需求名称", "专家", "专家单位"], slots)
    return workbook_bytes(wb)


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
                phone = e.phone if can_read_expert_contact(user, e.institution_id) else (
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
    return workbook_bytes(wb)


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


def _event(uid: str, start: datetime, end: datetime, summary: str, location: str,
           description: str, confirmed: bool, stamp: datetime) -> list[str]:
    return ["BEGIN:VEVENT", f"UID:{uid}", f"DTSTAMP:{_utc(stamp)}", f"DTSTART:{_utc(start)}",
            f"DTEND:{_utc(end)}", f"SUMMARY:{ics_escape(summary)}",
            f"LOCATION:{ics_escape(location)}", f"DESCRIPTION:{ics_escape(description)}",
            "STATUS:" + ("CONFIRMED" if confirmed else "TENTATIVE"), "END:VEVENT"]


def _calendar(events: list[list[str]]) -> bytes:
    props = ["BEGIN:VCALENDAR", "VERSION:2.0",
             "PRODID:-//Wuhan S&T Bureau//Matchmaking Meetings//ZH", "CALSCALE:GREGORIAN",
             "METHOD:PUBLISH"]
    for event in events:
        props.extend(event)
    props.append("END:VCALENDAR")
    return ("\r\n".join(fold(p) for p in props) + "\r\n").encode("utf-8")


def _where(meeting: MatchmakingMeeting, ms: MeetingSession) -> str:
    return "，".join(x for x in (meeting.venue or "", ms.room or "") if x)


def session_ics(session: Session, meeting: MatchmakingMeeting, ms: MeetingSession, *,
                host: str = "wuhan-kjcg", now: datetime | None = None) -> bytes:
    """Return a VCALENDAR with the session as one VEVENT (agenda and 1:1 timetable inside)."""
    start, end = read.local(ms.starts_at), read.local(ms.ends_at)
    if start is None or end is None:
        raise DomainError("该分场尚未确定日期和时段，不能生成日历文件：请先填写会议日期，"
                          "并把该分场排入议程。", field="held_on")
    n = read.names(session, meeting, ms)
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
    event = _event(f"meeting-{meeting.id}-session-{ms.id}@{host}", start, end,
                   f"{meeting.title}·{ms.title}", _where(meeting, ms), "\n".join(lines_desc),
                   meeting.status in ("confirmed", "held"), now or clock.now())
    return _calendar([event])


PERSON_KINDS = {"expert": "专家", "enterprise": "企业", "investor": "创投机构"}


def person_ics(session: Session, meeting: MatchmakingMeeting, kind: str, person_id: int, *,
               host: str = "wuhan-kjcg", now: datetime | None = None) -> tuple[str, bytes]:
    """Return (name, VCALENDAR) of one person's own agenda: their sessions and 1:1 meetings."""
    if kind not in PERSON_KINDS:
        raise DomainError("只能导出专家、企业或创投机构的个人日程。", field="kind")
    n = read.names(session, meeting)
    name = {"expert": n.experts, "enterprise": n.enterprises, "investor": n.investors}[kind]
    person = name.get(person_id)
    if person is None:
        raise DomainError(f"该{PERSON_KINDS[kind]}不在本次对接会中。", field="person")
    stamp, confirmed = now or clock.now(), meeting.status in ("confirmed", "held")
    events: list[list[str]] = []
    column = {"expert": "expert_id", "enterprise": "enterprise_id", "investor": "investor_id"}
    for ms in agenda_order(meeting):
        invited = any(getattr(i, column[kind]) == person_id for i in ms.invitations
                      if i.kind == kind)
        if not invited or ms.starts_at is None or ms.ends_at is None:
            continue
        start, end = read.local(ms.starts_at), read.local(ms.ends_at)
        mine = [s for s in ms.slots if (kind == "expert" and s.expert_id == person_id) or (
            kind == "enterprise" and n.demands.get(s.demand_id) is not None
            and n.demands[s.demand_id].enterprise_id == person_id)]
        desc = [f"主题词：{'、'.join(ms.theme_words or [])}"]
        events.append(_event(f"meeting-{meeting.id}-session-{ms.id}-{kind}-{person_id}@{host}",
                             start, end, f"{meeting.title}·{ms.title}", _where(meeting, ms),
                             "\n".join(desc), confirmed, stamp))
        minutes = int((meeting.params or {}).get("slot_minutes") or 20)
        for s in sorted(mine, key=lambda s: s.slot):
            at = read.slot_time(meeting, ms, s.slot)
            d, e = n.demands.get(s.demand_id), n.experts.get(s.expert_id)
            other = (n.enterprises.get(d.enterprise_id).name
                     if kind == "expert" and d and d.enterprise_id in n.enterprises
                     else (e.name if e else ""))
            events.append(_event(
                f"meeting-{meeting.id}-slot-{s.id}-{kind}-{person_id}@{host}", at,
                at + timedelta(minutes=minutes), f"一对一洽谈：{other}（{s.table_no + 1}号桌）",
                _where(meeting, ms), f"需求：{d.title if d else ''}", confirmed, stamp))
    if not events:
        raise DomainError(f"{person.name}在本次对接会中还没有排定时间的日程。", field="person")
    return person.name, _calendar(events)


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
