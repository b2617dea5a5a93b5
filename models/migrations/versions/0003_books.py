"""the visit log (走访记录) and the demands a visit raised"""
import sqlalchemy as sa
from alembic import op

revision = "0003_books"
down_revision = "0003_quality_override"


def upgrade() -> None:
    op.create_table(
        "visit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visited_on", sa.Date(), nullable=False),
        sa.Column("liaison_id", sa.Integer(), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("park_id", sa.Integer(), nullable=True),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("people_met", sa.String(length=200), nullable=False),
        sa.Column("findings", sa.Text(), nullable=False),
        sa.Column("follow_up", sa.Text(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["user_account.id"],
                                name=op.f("fk_visit_created_by_id_user_account")),
        sa.ForeignKeyConstraint(["district_id"], ["district.id"],
                                name=op.f("fk_visit_district_id_district")),
        sa.ForeignKeyConstraint(["enterprise_id"], ["enterprise.id"],
                                name=op.f("fk_visit_enterprise_id_enterprise")),
        sa.ForeignKeyConstraint(["liaison_id"], ["liaison.id"],
                                name=op.f("fk_visit_liaison_id_liaison")),
        sa.ForeignKeyConstraint(["park_id"], ["park.id"], name=op.f("fk_visit_park_id_park")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit")),
    )
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_visit_visited_on"), ["visited_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_visit_liaison_id"), ["liaison_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_visit_district_id"), ["district_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_visit_enterprise_id"), ["enterprise_id"],
                              unique=False)
    op.create_table(
        "visit_demand",
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("demand_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["demand_id"], ["demand.id"],
                                name=op.f("fk_visit_demand_demand_id_demand"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["visit_id"], ["visit.id"],
                                name=op.f("fk_visit_demand_visit_id_visit"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("visit_id", "demand_id", name=op.f("pk_visit_demand")),
    )


def downgrade() -> None:
    op.drop_table("visit_demand")
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visit_enterprise_id"))
        batch_op.drop_index(batch_op.f("ix_visit_district_id"))
        batch_op.drop_index(batch_op.f("ix_visit_liaison_id"))
        batch_op.drop_index(batch_op.f("ix_visit_visited_on"))
    op.drop_table("visit")
