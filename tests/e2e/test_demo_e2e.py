"""`polex demo` end to end, as a user runs it: the command as a real process on free ports, both
nodes answering, the first story of docs/demo.md done in Chromium (a border officer logs in
with password and one-time code and finds the wanted man on Italy's stolen passport), the other
stories checked as docs/demo.md tells them, `polex demo codes` giving codes the server accepts,
and Ctrl-C stopping everything with exit code 0; run again, the demo reuses what it made."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from browser import Session, User, needs_chromium, wait_healthy

POLEX = str(Path(sys.executable).with_name("polex"))
PURPOSE = "Border check, Frankfurt airport, flight SU2306"
STARTUP = 240  # generating, loading and cross-matching the small demo on a shared machine
# a partner node's first answer after its start warms its caches; on a busy test machine that
# can take longer than a federated search waits by default (3 s)
ENV = os.environ | {"POLEX_FEDERATION_DEADLINE": "30"}

pytestmark = pytest.mark.e2e


def free_base_port() -> int:
    """A port P with P, P+1, P+10 and P+11 free: the two nodes' web and federation ports."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + 11 > 65_000:
            continue
        sockets = [socket.socket() for _ in range(4)]
        try:
            for s, offset in zip(sockets, (0, 1, 10, 11), strict=True):
                s.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no four free ports found")


def nothing_listens(port: int) -> bool:
    """Whether a connection to the port is refused (binding would also fail on connections
    the stopped server left in TIME_WAIT)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


@dataclass
class Demo:
    directory: Path
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def logins(self) -> dict[str, dict[str, Any]]:
        data = json.loads((self.directory / "logins.json").read_text(encoding="utf-8"))
        return {x["username"]: x for x in data["logins"]}

    def url(self, node: str) -> str:
        return f"http://127.0.0.1:{self.port + (10 if node == 'REGIONAL' else 0)}"

    def site(self, node: str) -> Site:
        users = {
            name: User(name, x["password"], x["totp_secret"])
            for name, x in self.logins.items()
            if x["node"] == node
        }
        return Site(self.url(node), users)

    def search(self, username: str, text: str, federated: bool = False) -> list[dict[str, Any]]:
        login = self.logins[username]
        response = httpx.post(
            f"{self.url(login['node'])}/api/v1/search",
            json={"q": text, "purpose": PURPOSE, "federated": federated},
            headers={"Authorization": f"Bearer {login['token']}"},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert all(p["status"] == "ok" for p in body.get("partners", [])), body["partners"]
        return list(body["hits"])


@dataclass(frozen=True)
class Site:
    url: str
    users: dict[str, User]


def start(directory: Path, port: int, log: Path) -> Demo:
    out = log.open("ab")
    process = subprocess.Popen(
        [POLEX, "demo", "--dir", str(directory), "--size", "small", "--port", str(port)],
        stdout=out,
        stderr=subprocess.STDOUT,
        env=ENV,
    )
    out.close()
    demo = Demo(directory, port, process, log)
    for node in ("GLOBAL", "REGIONAL"):
        wait_healthy(demo.url(node), process, log, timeout=STARTUP)
    return demo


def stop(demo: Demo) -> int:
    """Ctrl-C, as a terminal sends it to the demo."""
    demo.process.send_signal(signal.SIGINT)
    return demo.process.wait(timeout=60)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    base = tmp_path_factory.mktemp("demo")
    running = start(base / "demo", free_base_port(), base / "demo.log")
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait()


@needs_chromium
def test_wanted_man_on_a_stolen_passport_in_chromium(demo: Demo, chromium: Any) -> None:
    """Story 1: at the border, the passport number finds Italy's stolen blank and Ukraine's red
    notice for the man who carries it."""
    session = Session(chromium, demo.site("REGIONAL"))
    session.log_in("de-bka.officer")
    page = session.page
    page.get_by_label("Purpose of this search").fill(PURPOSE)
    page.get_by_label("Name, document, vehicle or phone number, birth date").fill("YA4471305")
    page.get_by_role("button", name="Search", exact=True).click()
    wanted = page.get_by_role("link", name="Сергей Иванов")
    wanted.wait_for()
    results = page.locator("#results").inner_text()
    assert "Wanted persons" in results and "owner UA-NPU" in results
    assert "Travel documents" in results and "owner IT-DCSA" in results
    wanted.click()
    page.wait_for_url("**/records/*")
    record = page.locator("main").inner_text()
    assert "YA4471305" in record and "red" in record.lower()
    session.close()


def test_the_other_stories_are_found_as_docs_demo_tells(demo: Demo) -> None:
    def captions(hits: list[dict[str, Any]]) -> dict[str, str]:
        """The best full hit of each owner (a weaker one may follow it)."""
        best: dict[str, str] = {}
        for h in hits:
            if not h["restricted"]:
                best.setdefault(h["owner"], h["caption"])
        return best

    def restricted(hits: list[dict[str, Any]]) -> set[tuple[str, str]]:
        return {(h["owner"], h["node"]) for h in hits if h["restricted"]}

    # 2. one man in Arabic, Latin and Cyrillic script
    hits = demo.search("de-bka.officer", "Mohamed El-Hassan", federated=True)
    assert captions(hits) == {"DE-BKA": "Mohamed El-Hassan", "UA-NPU": "Мухаммед аль-Хасан"}
    assert ("EG-NCB", "GLOBAL") in restricted(hits)
    hits = demo.search("ua-npu.officer", "Мухаммед аль-Хасан", federated=True)
    assert ("EG-NCB", "GLOBAL") in restricted(hits)  # Cyrillic finds the Arabic record
    # 3. a network whose members both organisations know
    hits = demo.search("de-bka.analyst", "Kemal Aydin", federated=True)
    assert captions(hits)["DE-BKA"] == "Kemal Aydin"
    assert ("TR-EGM", "GLOBAL") in restricted(hits)
    # 4. the stolen yacht, renamed and reflagged
    hits = demo.search("tr-egm.officer", "IMO 4782319", federated=True)
    assert captions(hits) == {"TR-EGM": "Deniz Yıldızı"}
    assert ("FR-OCRGDF", "REGIONAL") in restricted(hits)
    # 5. one Glock, two serial spellings
    hits = demo.search("es-cnp.officer", "AB12345")
    assert captions(hits) == {"ES-CNP": "AB-12345", "FR-OCRGDF": "ab 12345"}


def test_codes_command_prints_codes_the_authenticator_would(demo: Demo) -> None:
    done = subprocess.run(
        [POLEX, "demo", "codes", "--dir", str(demo.directory), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    codes = {c["username"]: c for c in json.loads(done.stdout)}
    logins = demo.logins
    assert set(codes) == set(logins)
    for username, code in codes.items():
        assert pyotp.TOTP(logins[username]["totp_secret"]).verify(code["code"], valid_window=1)
        assert 1 <= code["valid_seconds"] <= 30
    one = subprocess.run(
        [POLEX, "demo", "codes", "--dir", str(demo.directory), "--user", "nobody.officer"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert one.returncode == 2 and "--user: nobody.officer is not a demo user" in one.stderr


def test_ctrl_c_stops_both_nodes_and_a_rerun_reuses_the_demo(demo: Demo) -> None:
    before = demo.logins
    assert stop(demo) == 0, demo.log.read_text(errors="replace")
    assert all(nothing_listens(demo.port + offset) for offset in (0, 1, 10, 11))
    assert "stopping both nodes" in demo.log.read_text(errors="replace")

    # again, on other ports: the same logins, the nodes linked anew, the data still there
    again = start(demo.directory, free_base_port(), demo.log)
    try:
        assert again.logins == before
        assert "reusing the demo" in again.log.read_text(errors="replace")
        hits = again.search("de-bka.analyst", "Kemal Aydin", federated=True)
        assert ("TR-EGM", "GLOBAL") in {(h["owner"], h["node"]) for h in hits if h["restricted"]}
    finally:
        assert stop(again) == 0
