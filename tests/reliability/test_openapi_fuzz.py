"""Schemathesis against the served OpenAPI document: no server error, no schema violation.

Every operation gets a bounded number of generated requests (valid and invalid), sent with a
token that holds every scope, on a database with published demands and experts in it.
"""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select  # noqa: E402

from models import ApiClient  # noqa: E402
from tests import factories as f  # noqa: E402
from tests.views.test_api import api_client  # noqa: E402

EXAMPLES_PER_OPERATION = 12


@pytest.fixture
def api_schema(app):
    """Return the document the running app serves."""
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


@pytest.fixture
def token(session):
    """Seed experts and demands; return a token with every scope."""
    inst = f.institution(session, "武汉大学")
    f.expert(session, "张锂", ["动力锂电池热失控预警与电池管理系统"], inst="武汉大学")
    f.expert(session, "王膜", ["反渗透膜污染控制与水处理"], inst="武汉大学")
    f.demand(session, "高镍三元锂电池热失控预警", "预警时间不足", "预警≥5分钟",
             status="published", keywords=["热失控"])
    plain = api_client(session, "模糊测试")
    row = session.scalar(select(ApiClient).where(ApiClient.name == "模糊测试"))
    row.scopes, row.institution_ids = ["read", "rank", "push_experts"], [inst.id]
    session.commit()
    return plain


CHECKS = (not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance)


def test_every_operation_answers_within_its_schema(api_schema, token):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 14
    failures = []
    statuses: dict[int, int] = {}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
                  database=None, suppress_health_check=list(HealthCheck))
        def run(case):
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            case.validate_response(response, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
    print("schemathesis:", len(operations), "operations,", sum(statuses.values()), "requests,",
          "statuses", dict(sorted(statuses.items())))
    assert sum(statuses.values()) >= 3 * len(operations)
    assert 200 in statuses and 500 not in statuses
