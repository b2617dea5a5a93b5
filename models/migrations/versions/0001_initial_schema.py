"""initial schema"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None

#: Column types by the short names the table list below uses; "?" after one makes it nullable.
_TYPES = {
    "int": sa.Integer, "bool": sa.Boolean, "text": sa.Text, "float": sa.Float, "date": sa.Date,
    "json": sa.JSON, "bytes": sa.LargeBinary, "time": lambda: sa.DateTime(timezone=True),
}


def _column(spec: str) -> sa.Column:
    """Return the column of ``"name type"``; ``str40`` is a String(length=40)."""
    name, kind = spec.split()
    nullable = kind.endswith("?")
    kind = kind.rstrip("?")
    type_ = sa.String(length=int(kind[3:])) if kind.startswith("str") else _TYPES[kind]()
    return sa.Column(name, type_, nullable=nullable)


def _create(name: str, columns: str, fks: str = "", pk: str = "id", unique: tuple[str, ...] = (),
            index: str = "") -> None:
    """Create a table, its constraints (named as the models name them) and its indexes.

    ``fks`` lists ``column>table`` (``!`` after it: ON DELETE CASCADE), referring to ``table.id``;
    ``pk``, each ``unique`` entry and ``index`` list column names.
    """
    constraints: list[sa.Constraint] = []
    for fk in filter(None, fks.split(", ")):
        column, target = fk.rstrip("!").split(">")
        constraints.append(sa.ForeignKeyConstraint(
            [column], [f"{target}.id"], name=op.f(f"fk_{name}_{column}_{target}"),
            **({"ondelete": "CASCADE"} if fk.endswith("!") else {})))
    constraints.append(sa.PrimaryKeyConstraint(*pk.split(), name=op.f(f"pk_{name}")))
    for group in unique:
        constraints.append(
            sa.UniqueConstraint(*group.split(), name=op.f(f"uq_{name}_{group.replace(' ', '_')}")))
    op.create_table(name, *map(_column, columns.split(", ")), *constraints)
    for column in index.split():
        op.create_index(op.f(f"ix_{name}_{column}"), name, [column], unique=False)


#: The tables in the order they are created (and dropped in reverse), with their keyword arguments.
_TABLES: list[tuple[str, str, dict]] = [
    ("background_job", "id int, kind str30, status str20, total int, done int, message str500?, "
                       "started_at time, finished_at time?", {}),
    ("data_version", "name str30, version int, updated_at time", {"pk": "name"}),
    ("district", "id int, seq int, name str40, quota_existing int, quota_new int, quota_total int",
                {"unique": ("name",)}),
    ("domain_term", "id int, term str40, created_at time", {"unique": ("term",)}),
    ("industry", "id int, code str10, name str80, section str4?, section_name str60?, "
                 "is_custom bool", {"unique": ("code",)}),
    ("institution", "id int, name str100, kind str20, city str20?", {"unique": ("name",)}),
    ("investor", "id int, name str120, stages json, ticket_min float?, ticket_max float?, "
                 "focus text?, contact_person str40?, contact_phone str30?", {"unique": ("name",)}),
    ("login_event", "id int, at time, username str40, success bool, ip str45?, "
                    "user_agent str300?, message str200?", {"index": "at"}),
    ("tech_field", "id int, code str10, name str40, is_custom bool", {"unique": ("code", "name")}),
    ("district_quota", "id int, district_id int, year int, existing int, new int, total int, "
                       "updated_at time",
                      {"fks": "district_id>district!", "unique": ("district_id year",)}),
    ("expert", "id int, name str40, institution_id int, title str60?, research_fields text?, "
               "summary text?, is_academician bool, team str120?, tech_field_id int?, "
               "phone str30?, email str120?, tokens text, vector bytes?, vector_model str80?, "
               "created_at time, updated_at time",
              {"fks": "institution_id>institution, tech_field_id>tech_field",
               "unique": ("institution_id name",),
               "index": "institution_id"}),
    ("investor_industry", "investor_id int, industry_id int",
                         {"fks": "industry_id>industry!, investor_id>investor!",
                          "pk": "investor_id industry_id"}),
    ("liaison", "id int, kind str10, name str40, employer_post str120?, phone str30?, "
                "email str120?, district_id int?, institution_id int?, start_date date?, "
                "end_date date?, end_reason str200?, replaces_id int?, filed_on date?, "
                "created_at time",
               {"fks": "district_id>district, institution_id>institution, replaces_id>liaison",
                "index": "district_id"}),
    ("park", "id int, name str100, kind str20, district_id int",
            {"fks": "district_id>district", "unique": ("district_id name",)}),
    ("training", "id int, district_id int, held_on date, topic str200, attendee_count int, "
                 "notes text?", {"fks": "district_id>district", "index": "district_id"}),
    ("assessment", "id int, liaison_id int, year int, result str12, score float?, reviewer str40, "
                   "assessed_on date, comment text?",
                  {"fks": "liaison_id>liaison!", "unique": ("liaison_id year",)}),
    ("enterprise", "id int, name str120, credit_code str18?, district_id int, park_id int?, "
                   "industry_id int?, is_key bool, contact_person str40?, contact_phone str30?, "
                   "contact_email str120?, address str200?, created_at time",
                  {"fks": "district_id>district, industry_id>industry, park_id>park",
                   "unique": ("credit_code", "name"),
                   "index": "district_id"}),
    ("expert_item", "id int, expert_id int, position int, kind str10, title str300, text text?, "
                    "year int?, tokens text, vector bytes?",
                   {"fks": "expert_id>expert!", "index": "expert_id"}),
    ("liaison_park", "liaison_id int, park_id int",
                    {"fks": "liaison_id>liaison!, park_id>park!", "pk": "liaison_id park_id"}),
    ("training_attendee", "training_id int, liaison_id int",
                         {"fks": "liaison_id>liaison!, training_id>training!",
                          "pk": "training_id liaison_id"}),
    ("user_account", "id int, username str40, password_hash str255, display_name str40, "
                     "role str20, district_id int?, institution_id int?, liaison_id int?, "
                     "active bool, created_at time",
                    {"fks": "district_id>district, institution_id>institution, liaison_id>liaison",
                     "unique": ("username",)}),
    ("api_client", "id int, name str80, token_hash str128, token_prefix str12, active bool, "
                   "created_by_id int?, created_at time, last_used_at time?",
                  {"fks": "created_by_id>user_account", "unique": ("name", "token_hash")}),
    ("audit_event", "id int, at time, user_id int?, actor str80, action str40, entity str40, "
                    "entity_id int?, detail json?, ip str45?",
                   {"fks": "user_id>user_account", "index": "at"}),
    ("demand", "id int, code str30, enterprise_id int, district_id int, liaison_id int?, "
               "title str200, problem text, goals text, investment float?, industry_id int?, "
               "tech_field_id int?, keywords json, cooperation_mode str20?, deadline date?, "
               "publishable bool, status str12, return_reason text?, created_at time, "
               "updated_at time, submitted_at time?, published_at time?, returned_at time?, "
               "closed_at time?, tokens text, vector bytes?, vector_model str80?",
              {"fks": "district_id>district, enterprise_id>enterprise, industry_id>industry, "
                      "liaison_id>liaison, tech_field_id>tech_field",
               "unique": ("code",),
               "index": "district_id enterprise_id liaison_id status"}),
    ("liaison_enterprise", "liaison_id int, enterprise_id int",
                          {"fks": "enterprise_id>enterprise!, liaison_id>liaison!",
                           "pk": "liaison_id enterprise_id"}),
    ("matchmaking_meeting", "id int, title str200, district_id int?, held_on date?, "
                            "venue str200?, status str12, params json, created_by_id int?, "
                            "created_at time",
                           {"fks": "created_by_id>user_account, district_id>district",
                            "index": "district_id"}),
    ("demand_event", "id int, demand_id int, user_id int?, at time, from_status str12?, "
                     "to_status str12, reason text?",
                    {"fks": "demand_id>demand!, user_id>user_account", "index": "demand_id"}),
    ("match", "id int, demand_id int, expert_id int, score float?, status str12, reason text?, "
              "contract_amount float?, explanation json?, proposed_by_id int?, created_at time, "
              "updated_at time",
             {"fks": "demand_id>demand, expert_id>expert, proposed_by_id>user_account",
              "unique": ("demand_id expert_id",),
              "index": "demand_id expert_id status"}),
    ("meeting_session", "id int, meeting_id int, seq int, title str200, theme_words json, "
                        "industry_id int?, starts_at time?, ends_at time?, locked bool",
                       {"fks": "industry_id>industry, meeting_id>matchmaking_meeting!",
                        "index": "meeting_id"}),
    ("invitation", "id int, session_id int, kind str12, expert_id int?, enterprise_id int?, "
                   "investor_id int?, institution_id int?, affinity float?, locked bool, "
                   "attended bool?",
                  {"fks": "enterprise_id>enterprise, expert_id>expert, "
                          "institution_id>institution, investor_id>investor, "
                          "session_id>meeting_session!",
                   "index": "session_id"}),
    ("match_event", "id int, match_id int, user_id int?, at time, from_status str12?, "
                    "to_status str12, reason text?, contract_amount float?",
                   {"fks": "match_id>match!, user_id>user_account", "index": "match_id"}),
    ("meeting_slot", "id int, session_id int, demand_id int, expert_id int, slot int, "
                     "table_no int, outcome str20?, followup text?, followup_agreement bool?, "
                     "followup_amount float?, followup_on date?",
                    {"fks": "demand_id>demand, expert_id>expert, session_id>meeting_session!",
                     "index": "session_id"}),
    ("session_demand", "id int, session_id int, demand_id int, locked bool",
                      {"fks": "demand_id>demand, session_id>meeting_session!",
                       "index": "session_id"}),
    ("typical_case", "id int, district_id int, year int, title str200, liaison_id int?, "
                     "demand_id int?, match_id int?, meeting_id int?, enterprise_name str120?, "
                     "expert_name str120?, contract_amount float?, summary text, status str12, "
                     "created_at time",
                    {"fks": "demand_id>demand, district_id>district, liaison_id>liaison, "
                            "match_id>match, meeting_id>matchmaking_meeting",
                     "index": "district_id"}),
]


def upgrade() -> None:
    for name, columns, options in _TABLES:
        _create(name, columns, **options)


def downgrade() -> None:
    for name, _columns, options in reversed(_TABLES):
        for column in reversed(str(options.get("index", "")).split()):
            op.drop_index(op.f(f"ix_{name}_{column}"), table_name=name)
        op.drop_table(name)
