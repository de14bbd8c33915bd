"""Messages, workspaces, hits and administration through the pages: send about a record,
read and acknowledge as the other agency, reply in the thread, decide a hit, register."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from polex.audit.log import chain
from polex.audit.tables import audit_log
from polex.node import records as service
from polex.node.home import Node


def person(sid: str, name: str) -> Any:
    return service.RecordInput.model_validate(
        {
            "id": sid,
            "schema": "Person",
            "properties": {"name": [name], "birthDate": ["1980-05-17"]},
            "polex": {"database": "intelligence", "subject_category": "suspect"},
        }
    )


def actions(node: Node) -> list[tuple[str, str]]:
    with node.engine.begin() as conn:
        chain(conn)
        rows = conn.execute(select(audit_log.c.actor, audit_log.c.action)).all()
    return [(r.actor, r.action) for r in rows]


def test_send_read_acknowledge_and_reply(
    node: Node, browser: TestClient, sign_in: Any, make_actor: Any, post_form: Any
) -> None:
    de = make_actor("anna", "DE-BKA", "officer", "DE")
    it = make_actor("luca", "IT-DCSA", "officer", "IT")
    with node.engine.begin() as conn:
        record = service.create(conn, de.principal, person("de-1", "Sergei Ivanov"))
    sign_in(de)
    compose = browser.get("/messages/new", params={"record": record.id})
    assert 'value="Sergei Ivanov"' in compose.text  # the subject offered from the record
    assert f'value="{record.id}" checked' in compose.text
    refused = post_form(
        f"/messages/new?record={record.id}",
        "/messages/new",
        {"to": "", "subject": "Sergei Ivanov", "body": "x", "records": record.id},
    )
    assert refused.status_code == 422
    to_block = refused.text.split('id="to"')[1].split("</div>")[0]
    assert 'aria-invalid="true"' in refused.text.split('id="to"')[1].split(">")[0]
    assert "at least one recipient" in to_block
    sent = post_form(
        f"/messages/new?record={record.id}",
        "/messages/new",
        {
            "to": "IT-DCSA",
            "subject": "Sergei Ivanov seen at the border",
            "body": "He crossed at **Frankfurt** today. <script>x</script>",
            "priority": "urgent",
            "handling": "H1",
            "case_ref": "OP-7",
            "records": record.id,
        },
    )
    assert sent.status_code == 303, sent.text
    message_url = sent.headers["location"].split("?")[0]
    page = browser.get(sent.headers["location"]).text
    assert "Message sent." in page and "<strong>Frankfurt</strong>" in page
    assert "<script>x</script>" not in page
    assert "Acknowledge</button>" not in page  # the sender does not acknowledge

    browser.cookies.clear()
    sign_in(it)
    inbox = browser.get("/messages").text
    assert "Sergei Ivanov seen at the border" in inbox and 'class="unread"' in inbox
    page = browser.get(message_url).text
    assert "Acknowledge</button>" in page
    assert f'href="/records/{record.id}"' in page
    acked = post_form(message_url, f"{message_url}/ack", {})
    assert acked.status_code == 303
    page = browser.get(acked.headers["location"]).text
    assert "Message acknowledged" in page and "Acknowledge</button>" not in page
    assert "by luca@IT-DCSA" in page

    reply_form = browser.get("/messages/new", params={"reply": message_url.rsplit("/", 1)[1]})
    assert 'value="Re: Sergei Ivanov seen at the border"' in reply_form.text
    reply = post_form(
        reply_form.url.path + "?" + reply_form.url.query.decode(),
        "/messages/new",
        {
            "subject": "Re: Sergei Ivanov seen at the border",
            "body": "Thank you, we follow up.",
            "in_reply_to": message_url.rsplit("/", 1)[1],
        },
    )
    assert reply.status_code == 303, reply.text
    thread_link = re.search(r'href="(/threads/[^"]+)"', browser.get(reply.headers["location"]).text)
    assert thread_link is not None
    thread = browser.get(thread_link.group(1)).text
    assert thread.index("He crossed at") < thread.index("Thank you, we follow up.")

    browser.cookies.clear()
    sign_in(de)
    outbox = browser.get("/messages", params={"box": "outbox"}).text
    assert "acknowledged" in outbox
    assert ("luca@IT-DCSA", "message.acknowledge") in actions(node)


def test_workspace_invite_and_share(
    node: Node, browser: TestClient, sign_in: Any, make_actor: Any, post_form: Any
) -> None:
    de = make_actor("anna", "DE-BKA", "officer", "DE")
    it = make_actor("luca", "IT-DCSA", "analyst", "IT")
    with node.engine.begin() as conn:
        record = service.create(conn, de.principal, person("de-1", "Sergei Ivanov"))
    sign_in(de)
    empty = post_form("/workspaces", "/workspaces", {"name": " ", "case_ref": ""})
    assert empty.status_code == 422 and "name: 1 to 255 characters" in empty.text
    opened = post_form(
        "/workspaces", "/workspaces", {"name": "Operation Birch", "case_ref": "OP-7"}
    )
    assert opened.status_code == 303
    ws_url = opened.headers["location"].split("?")[0]
    invited = post_form(ws_url, f"{ws_url}/invite", {"agency": "IT-DCSA"})
    assert invited.status_code == 303
    shared = post_form(
        f"/records/{record.id}",
        "/workspaces/share",
        {"workspace_id": ws_url.rsplit("/", 1)[1], "record_id": record.id},
    )
    assert shared.status_code == 303

    browser.cookies.clear()
    sign_in(it)
    page = browser.get(ws_url).text
    assert "Operation Birch" in page and "IT-DCSA@TEST-NODE" in page
    assert f'href="/records/{record.id}"' in page
    assert "Invite</button>" not in page  # only the owner agency invites


def test_supervisor_decides_a_hit(
    node: Node, browser: TestClient, sign_in: Any, make_actor: Any, post_form: Any
) -> None:
    de = make_actor("anna", "DE-BKA", "officer", "DE")
    it = make_actor("luca", "IT-DCSA", "officer", "IT")
    boss = make_actor("sara", "IT-DCSA", "supervisor", "IT")
    with node.engine.begin() as conn:
        service.create(conn, de.principal, person("de-1", "Sergei Ivanov"))
        service.create(conn, it.principal, person("it-1", "Sergej Ivanov"))
    sign_in(it)
    listing = browser.get("/hits").text
    hit_link = re.search(r'href="(/hits/\d+)"', listing)
    assert hit_link is not None, listing
    assert "Latest notices to IT-DCSA" in listing and "matches a record of agency DE-BKA" in listing
    page = browser.get(hit_link.group(1)).text
    assert "A supervisor of your agency decides this hit." in page
    assert "Record decision" not in page

    browser.cookies.clear()
    sign_in(boss)
    url = hit_link.group(1)
    invalid = post_form(url, f"{url}/decide", {"comment": "?"})
    assert invalid.status_code == 422 and "status: choose" in invalid.text
    decided = post_form(url, f"{url}/decide", {"status": "confirmed", "comment": "same man"})
    assert decided.status_code == 303
    page = browser.get(url).text
    assert "Confirmed by sara@IT-DCSA" in page and "same man" in page
    assert ("sara@IT-DCSA", "hit.decide") in actions(node)
    assert "No pending hits" in browser.get("/hits").text


def test_admin_registers_agencies_and_users(
    node: Node, browser: TestClient, sign_in: Any, make_actor: Any, post_form: Any
) -> None:
    sign_in(make_actor("adam", "DE-BKA", "admin", "DE"))
    bad = post_form("/admin", "/admin/agencies", {"code": "FR-OCRTIS", "name": "", "country": "FX"})
    assert bad.status_code == 422
    assert "name: the agency&#39;s name" in bad.text and "ISO 3166-1" in bad.text
    good = post_form(
        "/admin", "/admin/agencies", {"code": "FR-OCRTIS", "name": "OCRTIS", "country": "FR"}
    )
    assert good.status_code == 303
    zoe = {"username": "zoe", "agency": "FR-OCRTIS", "role": "analyst"}
    short = post_form("/admin", "/admin/users", {**zoe, "password": "short"})
    assert short.status_code == 422 and "password: at least" in short.text
    user = post_form("/admin", "/admin/users", {**zoe, "password": "zoe-correct-horse-battery"})
    assert user.status_code == 200
    secret = re.search(r'<p class="mono">([A-Z2-7]{16,})</p>', user.text)
    assert secret is not None and "Second factor of zoe" in user.text
    assert "otpauth://totp/" in user.text
    page = browser.get("/admin").text
    assert "FR-OCRTIS" in page and "zoe" in page and secret.group(1) not in page
    taken = post_form("/admin", "/admin/users", zoe)
    assert taken.status_code == 422 and "username: zoe is taken" in taken.text
    assert "No links yet" in page

    renewed = post_form("/admin", "/admin/users/manage", {"username": "zoe", "action": "totp"})
    assert "New second factor issued." in renewed.text
    assert secret.group(1) not in renewed.text and "Second factor of zoe" in renewed.text
    weak = post_form(
        "/admin", "/admin/users/manage", {"username": "zoe", "action": "password", "password": "x"}
    )
    assert weak.status_code == 422 and "password: at least" in weak.text
    ended = post_form("/admin", "/admin/users/manage", {"username": "zoe", "action": "sessions"})
    assert "All web sessions of the user ended." in ended.text
    assert ("adam@DE-BKA", "account.totp_reset") in actions(node)


def test_attachments_travel_with_the_message(
    node: Node, browser: TestClient, sign_in: Any, make_actor: Any, csrf_of: Any
) -> None:
    de = make_actor("anna", "DE-BKA", "officer", "DE")
    it = make_actor("luca", "IT-DCSA", "officer", "IT")
    sign_in(de)
    token = csrf_of(browser.get("/messages/new").text)
    photo = b"%PDF-1.4 border report\n"
    first = browser.post(
        "/messages/new",
        data={"csrf_token": token, "subject": "Report", "body": "attached", "to": ""},
        files={"files": ("report.pdf", photo, "application/pdf")},
    )
    assert first.status_code == 422  # no recipient yet: the file stays staged and offered
    kept = re.search(r'name="attachments" value="([^"]+)" checked> report.pdf', first.text)
    assert kept is not None
    sent = browser.post(
        "/messages/new",
        data={
            "csrf_token": token,
            "subject": "Report",
            "body": "attached",
            "to": "IT-DCSA",
            "attachments": kept.group(1),
        },
    )
    assert sent.status_code == 303, sent.text
    url = sent.headers["location"].split("?")[0]

    browser.cookies.clear()
    sign_in(it)
    page = browser.get(url).text
    link = re.search(r'href="(/messages/[^"]+/attachments/[0-9a-f]{64})"', page)
    assert link is not None and "report.pdf" in page
    download = browser.get(link.group(1))
    assert download.content == photo
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["x-content-type-options"] == "nosniff"
    assert ("luca@IT-DCSA", "message.download") in actions(node)


def test_forwarding_keeps_the_handling_code(
    node: Node, browser: TestClient, sign_in: Any, make_actor: Any, post_form: Any
) -> None:
    de = make_actor("anna", "DE-BKA", "officer", "DE")
    it = make_actor("luca", "IT-DCSA", "officer", "IT")
    make_actor("jean", "FR-OCRTIS", "officer", "FR")
    sign_in(de)
    urls = {}
    for handling in ("H0", "H2"):
        sent = post_form(
            "/messages/new",
            "/messages/new",
            {"to": "IT-DCSA", "subject": f"{handling} note", "body": "x", "handling": handling},
        )
        assert sent.status_code == 303, sent.text
        urls[handling] = sent.headers["location"].split("?")[0]

    browser.cookies.clear()
    sign_in(it)
    refused = post_form(urls["H2"], f"{urls['H2']}/forward", {"to": "FR-OCRTIS"})
    assert refused.status_code == 422
    assert 'id="fw-error"' in refused.text and "may not be passed on" in refused.text
    empty = post_form(urls["H0"], f"{urls['H0']}/forward", {"to": ""})
    assert empty.status_code == 422 and "at least one recipient" in empty.text
    passed = post_form(urls["H0"], f"{urls['H0']}/forward", {"to": "FR-OCRTIS", "note": "FYI"})
    assert passed.status_code == 303
    page = browser.get(passed.headers["location"]).text
    assert "Message forwarded." in page and "FR-OCRTIS@TEST-NODE" in page
