"""The Label Studio webhook refuses callers without the shared secret and bad payloads."""

from __future__ import annotations


def test_webhook_needs_the_shared_secret(api, ctx):
    # Ids no Label Studio in the test session reaches, so other tests' rows cannot match.
    unknown = 10**9
    body = {
        "action": "ANNOTATION_CREATED",
        "annotation": {"id": unknown, "task": unknown},
        "project": {"id": unknown},
    }
    assert api.post("/v1/hooks/label-studio", json=body).status_code == 401
    wrong = {"X-Kazi-Webhook-Secret": "nope"}
    assert api.post("/v1/hooks/label-studio", json=body, headers=wrong).status_code == 401
    ok = {"X-Kazi-Webhook-Secret": ctx.settings.webhook_secret}
    assert (
        api.post("/v1/hooks/label-studio", json={"action": "PROJECT_CREATED"}, headers=ok).json()[
            "status"
        ]
        == "ignored"
    )
    bad = api.post("/v1/hooks/label-studio", json={"action": "ANNOTATION_CREATED"}, headers=ok)
    assert bad.status_code == 400
    # An annotation on a task the engine does not know (yet) is left for reconciliation.
    resp = api.post("/v1/hooks/label-studio", json=body, headers=ok)
    assert resp.status_code == 200
    assert resp.json()["results"][0]["status"] == "ignored"
    from engine.db.models import RefusedAnnotationRow
    from engine.publishing.ls_server import label_studio_server

    server = label_studio_server(ctx.settings.label_studio_url)
    with ctx.sessions() as session:
        assert session.get(RefusedAnnotationRow, (server, unknown)) is None
