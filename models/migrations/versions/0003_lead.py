"""API token scopes and institutions; atomic sequence counters (demand codes)"""
import sqlalchemy as sa
from alembic import op

revision = "0003_lead"
down_revision = "0002"


def upgrade() -> None:
    with op.batch_alter_table("api_client") as batch:
        batch.add_column(sa.Column("scopes", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("institution_ids", sa.JSON(), nullable=True))
    api_client = sa.table("api_client", sa.column("scopes", sa.JSON()),
                          sa.column("institution_ids", sa.JSON()))
    # Existing tokens keep reading and ranking; pushing experts must be granted by the city.
    op.execute(api_client.update().values(scopes=["read", "rank"], institution_ids=[]))
    with op.batch_alter_table("api_client") as batch:
        batch.alter_column("scopes", existing_type=sa.JSON(), nullable=False)
        batch.alter_column("institution_ids", existing_type=sa.JSON(), nullable=False)
    op.create_table(
        "sequence_counter",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("name", name="pk_sequence_counter"),
    )


def downgrade() -> None:
    op.drop_table("sequence_counter")
    with op.batch_alter_table("api_client") as batch:
        batch.drop_column("institution_ids")
        batch.drop_column("scopes")
