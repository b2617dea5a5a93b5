"""/healthz reports database reachability."""


def test_healthz_ok(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json()["database"] == "ok"


def test_healthz_reports_unreachable_database(tmp_path):
    from app import create_app

    bad = create_app({"TESTING": True, "DATABASE_URL":
                      "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1"})
    resp = bad.test_client().get("/healthz")
    assert resp.status_code == 503
    assert resp.get_json()["status"] == "error"
