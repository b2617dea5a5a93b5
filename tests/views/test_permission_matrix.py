"""The permission matrix over real HTTP: every route of the url_map, every role, records in and
out of scope.

The expected status of a cell is not written per cell: it is derived from the view's declared
gate (the roles of ``roles_required``, read from the decorator, or ``api_token_required``), the
API contract's token scope (``TOKEN_SCOPE`` below) and, for the record in the URL, the rule's home:
``app.policy.access`` / ``app.policy.scope`` where the policy holds it, else the service that does
today (registries' and visits' district scopes, evaluated as SQL). A route of the url_map that
is neither in ``ROUTES`` nor in ``EXEMPT`` (both in ``permission_routes.py``) fails
``test_every_route_is_in_the_matrix``.

Pages are requested with GET; state-changing requests only where they are refused (signed out,
wrong role, record out of scope, token without the scope, no CSRF token), never a successful
write. One database (fixture ``matrix``) serves the whole module.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from app import create_app
from app.auth.decorators import api_token_required, roles_required
from app.policy.roles import ALL_ROLES
from app.security import CSRF_MESSAGE
from app.services import reference_data, user_accounts
from models import (
    User,
)
from tests.views.permission_routes import (
    ANONYMOUS,
    API_BODIES,
    EXEMPT,
    IDENTITIES,
    ROUTES,
    TOKEN_SCOPE,
    TOKEN_VISIBLE,
    TOKENS,
    USERS,
    VISIBLE,
    Route,
    _build,
    _nothing,
)

from ..conftest import TEST_CONFIG


#: The identities of the matrix: the four roles (demo accounts of 东湖高新区 and 武汉大学),
#: a visitor, and two API tokens (the platform's read/rank token, a university's push token).
@pytest.fixture(scope="module")
def matrix(migrated):
    """One database for the module: the world, the app, a signed-in client per identity."""
    application = create_app({**TEST_CONFIG, "DATABASE_URL": migrated.url})
    strict = create_app({**TEST_CONFIG, "DATABASE_URL": migrated.url, "WTF_CSRF_ENABLED": True})
    db = application.extensions["db"]
    with db.Session.begin() as session:
        world = _build(session)
    clients = {}
    for name in IDENTITIES:
        client = application.test_client()
        if name in USERS.values():
            resp = client.post("/login", data={"username": name,
                                               "password": user_accounts.DEMO_PASSWORD})
            assert resp.status_code == 302, name
        clients[name] = client
    csrf_client = strict.test_client()
    page = csrf_client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    resp = csrf_client.post("/login", data={"username": "city",
                                            "password": user_accounts.DEMO_PASSWORD,
                                            "csrf_token": token})
    assert resp.status_code == 302
    yield SimpleNamespace(app=application, strict=csrf_client, db=db, world=world,
                          clients=clients)
    with db.Session.begin() as session:
        reference_data.clear_all(session)
    strict.extensions["db"].engine.dispose()
    db.engine.dispose()


# --- the declared gate of a view ----------------------------------------------------------------
_ROLES_CODE = roles_required()(_nothing).__code__
_TOKEN_CODE = api_token_required(_nothing).__code__


def declared_gate(view: Callable) -> tuple[str, frozenset[str]] | None:
    """Return ('roles', roles) or ('api', ∅) from the view's decorators, None when it has none."""
    fn: Any = view
    while fn is not None:
        code = getattr(fn, "__code__", None)
        if code is _ROLES_CODE:
            roles = inspect.getclosurevars(fn).nonlocals["roles"]
            return "roles", frozenset(roles or ALL_ROLES)
        if code is _TOKEN_CODE:
            return "api", frozenset(ALL_ROLES)
        fn = getattr(fn, "__wrapped__", None)
    return None


def _rules(app) -> list[tuple[str, str, Any]]:
    """(method, rule, url_map rule) for every request the url_map answers (HEAD/OPTIONS aside)."""
    return sorted(((m, r.rule, r) for r in app.url_map.iter_rules()
                   for m in r.methods - {"HEAD", "OPTIONS"}), key=lambda x: (x[1], x[0]))


# --- the expected status --------------------------------------------------------------------------
def _user(session, name: str) -> User:
    cache = session.info.setdefault("matrix_users", {})
    if name not in cache:
        cache[name] = session.scalar(select(User).where(User.username == name))
    return cache[name]


def expected_status(session, method: str, rule: str, gate, route: Route, identity: str,
                    record_id: int | None) -> int | None:
    """Return the status `identity` gets; None for a write it is allowed to make (not sent)."""
    is_api = gate[0] == "api"
    model, visible = VISIBLE[route.kind] if route.kind else (None, None)
    row = session.get(model, record_id) if model is not None else None
    if identity == ANONYMOUS:
        return 401 if is_api else 302
    if identity in TOKENS:
        if not is_api:
            return 302  # a bearer token opens no page
        needed = TOKEN_SCOPE[(method, rule)]
        if needed is None or needed not in TOKENS[identity]:
            return 403
        if row is not None and not TOKEN_VISIBLE[route.kind](row):
            return 404
        return 200 if method == "GET" else None
    user = _user(session, identity)
    if user.role not in gate[1]:
        return 403
    if row is not None and not visible(session, user, row):
        return 404
    if route.refuse is not None and (status := route.refuse(session, user, row)):
        return status
    return route.ok if method == "GET" else None


def _cells(matrix, method: str, rule: str):
    """Yield (url, record id) for each record of the route's kind, or the one fixed URL."""
    route, world = ROUTES[rule], matrix.world
    if route.kind is None:
        yield route.url.format(**world.values), None
        return
    subs = world.sub.get(route.kind, {})
    for record_id in world.records[route.kind]:
        yield route.url.format(id=record_id, **subs.get(record_id, {}), **world.values), record_id


def _send(client, method: str, url: str, rule: str, token: str | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if method == "GET":
        return client.open(url, method=method, headers=headers)
    if rule.startswith("/api/"):
        return client.open(url, method=method, headers=headers,
                           json=API_BODIES.get((method, rule), {}))
    return client.open(url, method=method, headers=headers, data=ROUTES[rule].form)


# --- the tests ---------------------------------------------------------------------------------
def test_every_route_is_in_the_matrix(matrix):
    app = matrix.app
    rules = {rule for _, rule, _ in _rules(app)}
    missing = sorted(rules - set(ROUTES) - set(EXEMPT))
    assert missing == [], f"routes without a row in the permission matrix: {missing}"
    assert sorted(set(ROUTES) - rules) == [], "matrix rows of routes that no longer exist"
    assert sorted(set(EXEMPT) & set(ROUTES)) == []
    for method, rule, url_rule in _rules(app):
        gate = declared_gate(app.view_functions[url_rule.endpoint])
        if rule in EXEMPT:
            continue
        assert gate is not None, f"{method} {rule}: a view of the matrix without a declared gate"
        if gate[0] == "api":
            assert (method, rule) in TOKEN_SCOPE, f"{method} {rule}: no token scope declared"
        # each URL the matrix builds reaches the rule it stands for
        for url, _ in _cells(matrix, method, rule):
            adapter = app.url_map.bind("localhost")
            matched, _ = adapter.match(url.split("?")[0], method=method, return_rule=True)
            assert matched.rule == rule, (url, matched.rule)


@pytest.mark.parametrize("rule", sorted(ROUTES))
def test_permission_matrix(matrix, rule):
    app = matrix.app
    wrong = []
    with matrix.db.Session() as session:
        for method, _, url_rule in [x for x in _rules(app) if x[1] == rule]:
            gate = declared_gate(app.view_functions[url_rule.endpoint])
            for identity in IDENTITIES:
                client = matrix.clients[identity]
                token = matrix.world.tokens.get(identity)
                for url, record_id in _cells(matrix, method, rule):
                    want = expected_status(session, method, rule, gate, ROUTES[rule], identity,
                                           record_id)
                    if want is None:
                        continue  # an allowed write: the matrix sends only refusals
                    resp = _send(client, method, url, rule, token)
                    CHECKED[(method, rule)] = CHECKED.get((method, rule), 0) + 1
                    if resp.status_code != want:
                        wrong.append(f"{identity} {method} {url}: {resp.status_code}, "
                                     f"expected {want}")
                    elif want == 302:
                        assert resp.headers["Location"].startswith("/login"), (identity, url)
    assert wrong == []


#: (method, rule) -> requests checked, for the summary test below.
CHECKED: dict[tuple[str, str], int] = {}


def test_writes_need_the_csrf_token(matrix):
    """A signed-in browser's write without the CSRF token is refused (400) on every route."""
    refused = []
    for method, rule, _ in _rules(matrix.app):
        if method == "GET" or rule in EXEMPT:
            continue
        url = next(iter(_cells(matrix, method, rule)))[0]
        resp = _send(matrix.strict, method, url, rule)
        body = resp.get_json()["detail"] if resp.is_json else resp.get_data(as_text=True)
        if resp.status_code != 400 or CSRF_MESSAGE not in body:
            refused.append(f"{method} {url}: {resp.status_code}")
    assert refused == []
