"""The books: trainings, typical cases (drafted from signed matches) and assessments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import (
    Assessment,
    Case,
    Demand,
    Expert,
    Liaison,
    Match,
    MatchmakingMeeting,
    MeetingSession,
    MeetingSlot,
    SessionDemand,
    Training,
)

from ... import clock
from ...errors import Conflict, DomainError, NotFound
from .queries import (
    district_liaisons,
    districts_of,
    signed_at,
)
from .rules import (
    ASSESSMENT_RESULTS,
    FINISHED_MATCH,
    assessment_due,
)


# --- trainings, cases, assessments ----------------------------------------------------------
def save_training(session: Session, *, district_id: int, held_on: date | None, topic: str,
                  attendee_ids: Sequence[int] = (), attendee_count: int | None = None,
                  notes: str = "", training: Training | None = None) -> Training:
    """Create or update a training; attendees must be the district's liaisons."""
    if held_on is None:
        raise DomainError("请填写培训日期。", field="held_on")
    if not topic.strip():
        raise DomainError("请填写培训主题。", field="topic")
    people = list(session.scalars(select(Liaison).where(Liaison.id.in_(list(attendee_ids)))))
    if any(p.district_id != district_id for p in people):
        raise DomainError("参训人员只能选择本区联络员。", field="attendee_ids")
    if training is None:
        training = Training(district_id=district_id)
        session.add(training)
    training.held_on = held_on
    training.topic = topic.strip()
    training.attendees = people
    count = attendee_count if attendee_count is not None else 0
    if count < 0:
        raise DomainError("参训人数不能为负数。", field="attendee_count")
    training.attendee_count = max(count, len(people))
    training.notes = notes.strip() or None
    session.flush()
    return training


def save_case(session: Session, *, district_id: int, year: int, title: str, summary: str = "",
              liaison_id: int | None = None, enterprise_name: str = "", expert_name: str = "",
              contract_amount: float | None = None, status: str = "draft",
              case: Case | None = None) -> Case:
    """Create or update a typical case (draft or reported)."""
    if not title.strip():
        raise DomainError("请填写案例标题。", field="title")
    if status not in ("draft", "reported"):
        raise DomainError("案例状态不正确。", field="status")
    if contract_amount is not None and contract_amount < 0:
        raise DomainError("合同金额不能为负数。", field="contract_amount")
    if liaison_id is not None:
        li = session.get(Liaison, liaison_id)
        if li is None or li.district_id != district_id:
            raise DomainError("联络员须为本区联络员。", field="liaison_id")
    if case is None:
        case = Case(district_id=district_id)
        session.add(case)
    case.year, case.title, case.summary = year, title.strip(), summary.strip()
    case.liaison_id = liaison_id
    case.enterprise_name = enterprise_name.strip() or None
    case.expert_name = expert_name.strip() or None
    case.contract_amount = contract_amount
    case.status = status
    session.flush()
    return case


def _meeting_for(session: Session, demand_id: int, expert_id: int) -> MatchmakingMeeting | None:
    """Return the meeting where the pair met (a 1:1 slot), or one where the demand was placed."""
    slot = session.scalar(
        select(MatchmakingMeeting).join(MeetingSession).join(MeetingSlot)
        .where(MeetingSlot.demand_id == demand_id, MeetingSlot.expert_id == expert_id)
        .order_by(MatchmakingMeeting.held_on))
    if slot is not None:
        return slot
    return session.scalar(
        select(MatchmakingMeeting).join(MeetingSession).join(SessionDemand)
        .where(SessionDemand.demand_id == demand_id).order_by(MatchmakingMeeting.held_on))


def draft_case_from_match(session: Session, match_id: int, *,
                          today: date | None = None) -> Case:
    """Assemble enterprise, demand, expert, meeting and contract into an editable draft case."""
    match = session.get(Match, match_id)
    if match is None:
        raise NotFound("对接记录不存在。")
    if match.status not in FINISHED_MATCH:
        raise Conflict("只有已签约的对接才能生成典型案例草稿。")
    existing = session.scalar(select(Case).where(Case.match_id == match.id))
    if existing is not None:
        return existing
    demand: Demand = match.demand
    expert: Expert = match.expert
    ent = demand.enterprise
    liaison = demand.liaison
    meeting = _meeting_for(session, demand.id, expert.id)
    signed = signed_at(match)
    year = signed.year if signed else (today or clock.today()).year
    inst = expert.institution.name if expert.institution else ""
    expert_label = f"{inst}{expert.name}{expert.title or ''}团队"
    parts = []
    if liaison is not None:
        parts.append(f"联络员{liaison.name}走访{ent.name}，了解到企业在“{demand.title}”方面的"
                     "技术需求，协助企业凝练需求")
    else:
        parts.append(f"{ent.name}提出“{demand.title}”技术需求")
    if demand.published_at:
        parts.append(f"于{clock.local_time(demand.published_at):%Y年%m月%d日}在武汉科技成果转化平台公开发布")
    if demand.problem:
        parts.append(f"企业面临的技术难题：{demand.problem.splitlines()[0][:120]}")
    if meeting is not None:
        when = f"{meeting.held_on:%Y年%m月%d日}" if meeting.held_on else ""
        parts.append(f"经{when}“{meeting.title}”对接推荐，企业与{expert_label}建立联系")
    else:
        parts.append(f"经平台推荐，企业与{expert_label}建立联系")
    outcome = "双方签订技术合同"
    if match.contract_amount:
        outcome += f"，合同金额{match.contract_amount:g}万元"
    if signed:
        outcome = f"{signed:%Y年%m月}，" + outcome
    parts.append(outcome)
    title = f"联络员助力{ent.name}对接{inst}{expert.name}团队解决{demand.title}"
    if liaison is not None:
        title = f"联络员{liaison.name}助力{ent.name}对接{inst}{expert.name}团队"
    case = Case(district_id=demand.district_id, year=year, title=title[:200],
                liaison_id=demand.liaison_id, demand_id=demand.id, match_id=match.id,
                meeting_id=meeting.id if meeting else None, enterprise_name=ent.name,
                expert_name=f"{inst} {expert.name}".strip(), contract_amount=match.contract_amount,
                summary="；".join(parts) + "。", status="draft")
    session.add(case)
    session.flush()
    return case


def finished_matches(session: Session, district_id: int | None = None,
                     limit: int = 200) -> list[Match]:
    """Return signed matches without a case yet, newest first (candidates for a draft)."""
    taken = select(Case.match_id).where(Case.match_id.is_not(None))
    stmt = (select(Match).join(Demand).where(Match.status.in_(FINISHED_MATCH),
                                             Match.id.not_in(taken))
            .order_by(Match.updated_at.desc()).limit(limit))
    if district_id is not None:
        stmt = stmt.where(Demand.district_id == district_id)
    return list(session.scalars(stmt))


def save_assessment(session: Session, *, liaison_id: int, year: int, result: str,
                    reviewer: str, assessed_on: date | None, score: float | None = None,
                    comment: str = "", assessment: Assessment | None = None) -> Assessment:
    """Create or update the yearly assessment of a liaison (one per liaison and year)."""
    if result not in ASSESSMENT_RESULTS:
        raise DomainError("请选择考核结果。", field="result")
    if not reviewer.strip():
        raise DomainError("请填写考核人。", field="reviewer")
    if assessed_on is None:
        raise DomainError("请填写考核日期。", field="assessed_on")
    if score is not None and not 0 <= score <= 100:
        raise DomainError("考核分数应在 0-100 之间。", field="score")
    li = session.get(Liaison, liaison_id)
    if li is None:
        raise NotFound("联络员不存在。")
    if assessment is None:
        dup = session.scalar(select(Assessment).where(Assessment.liaison_id == liaison_id,
                                                      Assessment.year == year))
        if dup is not None:
            raise Conflict(f"{li.name}的{year}年度考核已登记。")
        assessment = Assessment(liaison_id=liaison_id, year=year)
        session.add(assessment)
    assessment.result = result
    assessment.reviewer = reviewer.strip()
    assessment.assessed_on = assessed_on
    assessment.score = score
    assessment.comment = comment.strip() or None
    session.flush()
    return assessment


def due_for_assessment(session: Session, year: int,
                       district_id: int | None = None) -> list[Liaison]:
    """Return the liaisons due for assessment in `year` who have no assessment row for it."""
    ids = [d.id for d in districts_of(session, district_id)]
    done = set(session.scalars(select(Assessment.liaison_id).where(Assessment.year == year)))
    return [li for li in district_liaisons(session, ids, year)
            if assessment_due(li, year) and li.id not in done]
