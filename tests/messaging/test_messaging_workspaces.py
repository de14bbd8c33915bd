"""Case workspaces: the owner invites agencies; members see the workspace's threads (also from
before they joined) and its records, each as the owner's policy lets them."""

from __future__ import annotations

from typing import Any


def _workspace(client, actor, **body: Any) -> Any:
    return client.post(
        "/api/v1/workspaces", json={"name": "Operation Rhine", **body}, headers=actor.headers
    )


def _invite(client, actor, wid: str, agency: str) -> Any:
    return client.post(
        f"/api/v1/workspaces/{wid}/members", json={"agency": agency}, headers=actor.headers
    )


def test_members_see_threads_and_outsiders_see_nothing(client, post, make_actor, audits) -> None:
    anna = make_actor("anna", "DE-BKA")
    pierre = make_actor("pierre", "FR-DCPJ", country="FR")
    jan = make_actor("jan", "NL-KLPD", country="NL")
    created = _workspace(client, anna, case_ref="OP-RHINE")
    assert created.status_code == 201, created.text
    wid = created.json()["id"]
    assert created.json()["members"] == ["DE-BKA@TEST-NODE"]
    assert _invite(client, anna, wid, "FR-DCPJ").json()["members"] == [
        "DE-BKA@TEST-NODE",
        "FR-DCPJ@TEST-NODE",
    ]
    assert [w["id"] for w in client.get("/api/v1/workspaces", headers=pierre.headers).json()] == [
        wid
    ]

    # posted in the workspace with no recipients: goes to the other members
    first = post.send(anna, workspace_id=wid, subject="Kick-off")
    assert first.status_code == 201, first.text
    assert first.json()["to"] == ["FR-DCPJ@TEST-NODE"]
    assert first.json()["case_ref"] == "OP-RHINE"

    assert client.get(f"/api/v1/workspaces/{wid}", headers=jan.headers).status_code == 404
    assert post.read(jan, first.json()["id"]).status_code == 404
    assert post.send(jan, workspace_id=wid, to=["DE-BKA"]).status_code == 404

    assert _invite(client, pierre, wid, "NL-KLPD").status_code == 403  # only the owner invites
    assert _invite(client, anna, wid, "NL-KLPD").status_code == 200
    # the new member reads the thread from before it joined, though not a recipient
    assert post.read(jan, first.json()["id"]).status_code == 200
    listed = client.get(f"/api/v1/workspaces/{wid}/messages", headers=jan.headers).json()
    assert [m["id"] for m in listed["items"]] == [first.json()["id"]]
    assert audits("workspace.invite", wid) == 2


def test_shared_records_are_shown_per_member(client, make_actor, make_record) -> None:
    anna = make_actor("anna", "DE-BKA")
    pierre = make_actor("pierre", "FR-DCPJ", country="FR")
    wid = _workspace(client, anna).json()["id"]
    _invite(client, anna, wid, "FR-DCPJ")
    shared = make_record(anna, "p-open")
    kept = make_record(anna, "p-kept", restrictions={"allow_agencies": ["DE-BKA"]})
    for rid in (shared, kept):
        answer = client.post(
            f"/api/v1/workspaces/{wid}/records", json={"record_id": rid}, headers=anna.headers
        )
        assert answer.status_code == 204, answer.text
    views = {
        r["record_id"]: r["view"]
        for r in client.get(f"/api/v1/workspaces/{wid}", headers=pierre.headers).json()["records"]
    }
    assert views == {shared: "full", kept: "hit"}
    refused = client.post(
        f"/api/v1/workspaces/{wid}/records", json={"record_id": kept}, headers=pierre.headers
    )
    assert refused.status_code == 422  # one shares only what one reads in full


def test_workspace_input_is_checked(client, make_actor) -> None:
    anna = make_actor("anna", "DE-BKA")
    wid = _workspace(client, anna).json()["id"]
    unknown = _invite(client, anna, wid, "XX-NONE")
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["field"] == "agency"
    assert _invite(client, anna, wid, "NL-KLPD@NCB-NL").json()["members"][-1] == "NL-KLPD@NCB-NL"
    assert _workspace(client, anna, id=wid).status_code == 409
    assert _workspace(client, anna, name=" ").status_code == 422
