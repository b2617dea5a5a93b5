"""The quota table matches attachment 1 of the notice exactly; reference tables are seeded."""

from sqlalchemy import func, select

from models import District, DistrictQuota, Industry, TechField

ATTACHMENT_1 = [
    (1, "江岸区", 9, 1, 10), (2, "江汉区", 5, 5, 10), (3, "硚口区", 5, 5, 10),
    (4, "汉阳区", 5, 5, 10), (5, "武昌区", 6, 9, 15), (6, "青山区", 8, 2, 10),
    (7, "洪山区", 8, 7, 15), (8, "蔡甸区", 5, 1, 6), (9, "江夏区", 5, 1, 6),
    (10, "黄陂区", 5, 1, 6), (11, "新洲区", 6, 1, 7), (12, "东湖高新区", 16, 34, 50),
    (13, "武汉经开区", 11, 19, 30), (14, "临空港开发区", 6, 9, 15),
]


def test_quota_table_is_attachment_1(session):
    rows = session.execute(
        select(District.seq, District.name, District.quota_existing, District.quota_new,
               District.quota_total).order_by(District.seq)
    ).all()
    assert [tuple(r) for r in rows] == ATTACHMENT_1
    totals = session.execute(
        select(func.sum(District.quota_existing), func.sum(District.quota_new),
               func.sum(District.quota_total))
    ).one()
    assert tuple(totals) == (100, 100, 200)
    q2022 = session.scalars(select(DistrictQuota).where(DistrictQuota.year == 2022)).all()
    assert sorted((q.district_id, q.existing, q.new, q.total) for q in q2022) == [
        (s, e, n, t) for s, _name, e, n, t in ATTACHMENT_1
    ]


def test_industries_and_fields_seeded(session):
    codes = set(session.scalars(select(Industry.code)))
    assert {"01", "27", "39", "65", "73", "97"} <= codes and len(codes) == 97
    assert session.scalar(select(Industry.name).where(Industry.code == "39")) == (
        "计算机、通信和其他电子设备制造业"
    )
    names = list(session.scalars(select(TechField.name).order_by(TechField.code)))
    assert names == ["电子信息", "生物与新医药", "航空航天", "新材料", "高技术服务",
                     "新能源与节能", "资源与环境", "先进制造与自动化"]
