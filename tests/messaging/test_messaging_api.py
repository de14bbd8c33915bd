"""Messages between agencies of one node through the API: send, inbox, read, receipts, threads,
forwarding under handling codes, and who may read what."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from polex.messaging.tables import message_deliveries, messages
from polex.node.home import Node


def test_send_deliver_read_acknowledge_with_receipts(post, make_actor, audits) -> None:
    anna = make_actor("anna", "DE-BKA", "officer", "DE")
    pierre = make_actor("pierre", "FR-DCPJ", "officer", "FR")
    sent = post.send(
        anna,
        to=["FR-DCPJ"],
        subject="Stolen BMW X5",
        body="**Urgent**: seen at Kehl. <script>alert(1)</script>",
        priority="urgent",
        handling="H1",
        case_ref="OP-RHINE",
    )
    assert sent.status_code == 201, sent.text
    message = sent.json()
    assert message["from"] == "DE-BKA@TEST-NODE"
    assert message["to"] == ["FR-DCPJ@TEST-NODE"]
    assert message["state"] == "delivered"  # local recipients are delivered at send time

    inbox = post.box(pierre).json()["items"]
    assert [m["id"] for m in inbox] == [message["id"]]
    assert inbox[0]["subject"] == "Stolen BMW X5"
    assert inbox[0]["state"] == "delivered"

    read = post.read(pierre, message["id"]).json()
    assert read["body"].startswith("**Urgent**")
    assert "<strong>Urgent</strong>" in read["body_html"]
    assert "<script>" not in read["body_html"]
    assert read["priority"] == "urgent" and read["case_ref"] == "OP-RHINE"
    assert [d["recipient"] for d in read["deliveries"]] == ["FR-DCPJ@TEST-NODE"]

    acked = post.ack(pierre, message["id"])
    assert acked.status_code == 200, acked.text
    assert acked.json()["state"] == "acknowledged"
    assert post.ack(pierre, message["id"]).json()["state"] == "acknowledged"  # idempotent

    receipts = post.read(anna, message["id"]).json()
    assert receipts["state"] == "acknowledged"
    (delivery,) = receipts["deliveries"]
    assert delivery["acknowledged_by"] == "pierre@FR-DCPJ"
    assert delivery["delivered_at"] is not None
    assert post.box(anna, "outbox").json()["items"][0]["state"] == "acknowledged"
    assert audits("message.send", message["id"]) == 1
    assert audits("message.read", message["id"]) == 2
    assert audits("message.acknowledge", message["id"]) == 1


def test_duplicate_send_with_the_same_id_delivers_once(
    post, make_actor, node: Node, audits
) -> None:
    anna = make_actor("anna", "DE-BKA")
    pierre = make_actor("pierre", "FR-DCPJ", country="FR")
    mid = str(uuid.uuid4())
    first = post.send(anna, id=mid, to=["FR-DCPJ"])
    again = post.send(anna, id=mid, to=["FR-DCPJ"])
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["created_at"] == first.json()["created_at"]
    with node.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(messages)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(message_deliveries)).scalar_one() == 1
    assert [m["id"] for m in post.box(pierre).json()["items"]] == [mid]
    assert audits("message.send", mid) == 1

    changed = post.send(anna, id=mid, to=["FR-DCPJ"], subject="Something else")
    assert changed.status_code == 409
    assert changed.json()["detail"][0]["field"] == "id"
    assert post.send(anna, id="not-a-uuid", to=["FR-DCPJ"]).status_code == 422


def test_recipients_are_checked_and_remote_ones_wait_for_the_relay(post, make_actor) -> None:
    anna = make_actor("anna", "DE-BKA")
    unknown = post.send(anna, to=["XX-NOPE"])
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["field"] == "to"
    assert "XX-NOPE" in unknown.json()["detail"][0]["message"]
    bad = post.send(anna, to=["not an address"])
    assert bad.status_code == 422 and bad.json()["detail"][0]["rule"] == "address.format"
    assert post.send(anna, to=[]).json()["detail"][0]["rule"] == "to.required"

    remote = post.send(anna, to=["NL-KLPD@NCB-NL"])
    assert remote.status_code == 201, remote.text
    assert remote.json()["state"] == "queued"
    assert remote.json()["deliveries"][0]["recipient"] == "NL-KLPD@NCB-NL"


def test_only_parties_read_a_message(post, make_actor) -> None:
    anna = make_actor("anna", "DE-BKA")
    make_actor("pierre", "FR-DCPJ", country="FR")
    outsider = make_actor("jan", "NL-KLPD", country="NL")
    admin = make_actor("root", "DE-BKA", role="admin")
    dpo = make_actor("dora", "DE-BKA", role="dpo")
    mid = post.send(anna, to=["FR-DCPJ"]).json()["id"]
    for actor in (outsider, admin, dpo):
        assert post.read(actor, mid).status_code == 404
    assert post.ack(outsider, mid).status_code == 404
    assert post.box(outsider).json()["items"] == []
    assert post.send(admin, to=["FR-DCPJ"]).status_code == 403


def test_replies_share_the_thread(post, make_actor, client) -> None:
    anna = make_actor("anna", "DE-BKA")
    pierre = make_actor("pierre", "FR-DCPJ", country="FR")
    outsider = make_actor("jan", "NL-KLPD", country="NL")
    first = post.send(anna, to=["FR-DCPJ"], case_ref="OP-RHINE").json()
    reply = post.send(pierre, in_reply_to=first["id"], subject="Re: sighting", body="Confirmed.")
    assert reply.status_code == 201, reply.text
    assert reply.json()["to"] == ["DE-BKA@TEST-NODE"]  # defaults to the original sender
    assert reply.json()["thread_id"] == first["thread_id"] == first["id"]
    assert reply.json()["case_ref"] == "OP-RHINE"
    thread = client.get(f"/api/v1/threads/{first['id']}", headers=anna.headers).json()
    assert [m["subject"] for m in thread] == ["Vehicle sighting", "Re: sighting"]
    assert client.get(f"/api/v1/threads/{first['id']}", headers=outsider.headers).status_code == 404
    assert post.send(outsider, in_reply_to=first["id"]).status_code == 404


def test_h2_message_is_not_forwarded_without_the_senders_permission(
    post, make_actor, client, audits
) -> None:
    anna = make_actor("anna", "DE-BKA")
    pierre = make_actor("pierre", "FR-DCPJ", country="FR")
    make_actor("jan", "NL-KLPD", country="NL")
    make_actor("eva", "AT-BK", country="AT")
    h2 = post.send(anna, to=["FR-DCPJ"], handling="H2", passing_permitted=["AT-BK"]).json()
    refused = client.post(
        f"/api/v1/messages/{h2['id']}/forward", json={"to": ["NL-KLPD"]}, headers=pierre.headers
    )
    assert refused.status_code == 403
    assert refused.json()["detail"][0]["field"] == "handling"
    assert "DE-BKA@TEST-NODE" in refused.json()["detail"][0]["message"]
    assert audits("message.forward_refused", h2["id"]) == 1
    # the owner passes its own message on
    own = client.post(
        f"/api/v1/messages/{h2['id']}/forward", json={"to": ["NL-KLPD"]}, headers=anna.headers
    )
    assert own.status_code == 201, own.text
    assert own.json()["handling"] == "H2" and own.json()["forwarded_from"] == h2["id"]

    h0 = post.send(anna, to=["FR-DCPJ"], handling="H0", body="line one\nline two").json()
    fwd = client.post(
        f"/api/v1/messages/{h0['id']}/forward",
        json={"to": ["NL-KLPD"], "note": "FYI"},
        headers=pierre.headers,
    )
    assert fwd.status_code == 201, fwd.text
    assert fwd.json()["subject"] == "Fwd: Vehicle sighting"
    assert "> line two" in fwd.json()["body"]


def test_h2_forward_with_recorded_permission(post, make_actor, client) -> None:
    anna = make_actor("anna", "DE-BKA")
    make_actor("pierre", "FR-DCPJ", country="FR")
    eva = make_actor("eva", "AT-BK", country="AT")
    h2 = post.send(anna, to=["AT-BK"], handling="H2", passing_permitted=["AT-BK"]).json()
    assert h2["passing_permitted"] == ["AT-BK@TEST-NODE"]
    passed = client.post(
        f"/api/v1/messages/{h2['id']}/forward", json={"to": ["FR-DCPJ"]}, headers=eva.headers
    )
    assert passed.status_code == 201, passed.text


def test_listing_filters(post, make_actor) -> None:
    anna = make_actor("anna", "DE-BKA")
    pierre = make_actor("pierre", "FR-DCPJ", country="FR")
    a = post.send(anna, to=["FR-DCPJ"], priority="immediate", case_ref="OP-1").json()["id"]
    b = post.send(anna, to=["FR-DCPJ"], priority="routine", case_ref="OP-2").json()["id"]
    assert [m["id"] for m in post.box(pierre, priority="immediate").json()["items"]] == [a]
    assert [m["id"] for m in post.box(pierre, case_ref="OP-2").json()["items"]] == [b]
    post.ack(pierre, a)
    assert [m["id"] for m in post.box(pierre, state="delivered").json()["items"]] == [b]
    listing = post.box(pierre, limit=1).json()
    assert listing["total"] == 2 and len(listing["items"]) == 1
    assert post.box(anna, "outbox", state="acknowledged").json()["items"][0]["id"] == a


def test_record_references_follow_the_owners_policy(post, make_actor, make_record) -> None:
    anna = make_actor("anna", "DE-BKA")
    pierre = make_actor("pierre", "FR-DCPJ", country="FR")
    open_record = make_record(anna, "p-1")
    restricted = make_record(anna, "p-2", restrictions={"allow_agencies": ["DE-BKA"]})
    denied = make_record(anna, "p-3", restrictions={"deny_countries": ["FR"]})
    sent = post.send(anna, to=["FR-DCPJ"], records=[open_record, restricted, denied])
    assert sent.status_code == 201, sent.text
    assert [r["view"] for r in sent.json()["records"]] == ["full", "full", "full"]
    views = {r["record_id"]: r for r in post.read(pierre, sent.json()["id"]).json()["records"]}
    assert views[open_record]["view"] == "full" and views[open_record]["caption"]
    assert views[restricted]["view"] == "hit" and views[restricted]["owner"] == "DE-BKA"
    assert views[restricted]["caption"] is None
    assert views[denied] == {
        "record_id": denied,
        "view": "none",
        "owner": None,
        "schema": None,
        "caption": None,
        "database": None,
        "handling": None,
    }
    # a sender references only what it may read in full
    mine = make_record(pierre, "fr-1", restrictions={"allow_agencies": ["FR-DCPJ"]})
    refused = post.send(anna, to=["FR-DCPJ"], records=[mine])
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["field"] == "records[0]"


def test_batch_send_is_all_or_nothing_and_idempotent(post, make_actor, client, audits) -> None:
    anna = make_actor("anna", "DE-BKA")
    pierre = make_actor("pierre", "FR-DCPJ", country="FR")
    drafts = [
        {"id": str(uuid.uuid4()), "to": ["FR-DCPJ"], "subject": f"Plate {i}"} for i in range(3)
    ]
    sent = client.post("/api/v1/messages/batch", json={"messages": drafts}, headers=anna.headers)
    assert sent.status_code == 201, sent.text
    assert sent.json()["created"] == 3
    assert {m["state"] for m in sent.json()["messages"]} == {"delivered"}
    again = client.post("/api/v1/messages/batch", json={"messages": drafts}, headers=anna.headers)
    assert again.json()["created"] == 0
    assert len(post.box(pierre).json()["items"]) == 3
    assert sum(audits("message.send", d["id"]) for d in drafts) == 3

    broken = [{"to": ["FR-DCPJ"], "subject": "fine"}, {"to": ["XX-NONE"], "subject": "bad"}]
    refused = client.post("/api/v1/messages/batch", json={"messages": broken}, headers=anna.headers)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["field"] == "messages[1].to"
    assert len(post.box(pierre).json()["items"]) == 3  # the valid one was not sent either


def test_messaging_endpoints_are_published(client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/messages",
        "/api/v1/messages/batch",
        "/api/v1/messages/{message_id}/ack",
        "/api/v1/attachments",
        "/api/v1/threads/{thread_id}",
        "/api/v1/workspaces/{workspace_id}/members",
    ):
        assert path in paths
    assert "multipart/form-data" in paths["/api/v1/attachments"]["post"]["requestBody"]["content"]
