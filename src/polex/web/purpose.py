"""The stated purpose of the officer's work, remembered per case.

Every search asks why it is made. An officer working one case states the purpose once; the
search form offers it again for that case (still visible, still editable), and a record opened
from the results is read under it. It lives in a signed cookie: it is the user's own words,
and a record read carries it into the audit trail."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field

from fastapi import Request

from polex.web import cookies
from polex.web.security import sign
from polex.web.settings import WebSettings

COOKIE = "polex_purpose"
MAX_CASES = 5
MAX_PURPOSE = 300
NO_CASE = ""


@dataclass
class Purposes:
    case_ref: str = NO_CASE  # the case the officer is working on now ("" for none)
    by_case: dict[str, str] = field(default_factory=dict)

    @property
    def current(self) -> str | None:
        return self.by_case.get(self.case_ref)

    def remember(self, case_ref: str | None, purpose: str) -> None:
        self.case_ref = (case_ref or NO_CASE).strip()
        self.by_case.pop(self.case_ref, None)
        self.by_case[self.case_ref] = purpose.strip()[:MAX_PURPOSE]
        while len(self.by_case) > MAX_CASES:
            self.by_case.pop(next(iter(self.by_case)))

    def for_case(self, case_ref: str | None) -> str | None:
        return self.by_case.get((case_ref or NO_CASE).strip())


def load(request: Request, settings: WebSettings, secret: bytes) -> Purposes:
    raw = cookies.read(request, settings, COOKIE)
    if not raw:
        return Purposes()
    data, _, mac = raw.rpartition(".")
    if mac != sign(secret, "purpose", data):
        return Purposes()
    try:
        doc = json.loads(base64.urlsafe_b64decode(data.encode()))
        return Purposes(
            case_ref=str(doc["case"]), by_case={str(k): str(v) for k, v in doc["by"].items()}
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return Purposes()


def save(request: Request, settings: WebSettings, secret: bytes, purposes: Purposes) -> None:
    doc = {"case": purposes.case_ref, "by": purposes.by_case}
    data = base64.urlsafe_b64encode(json.dumps(doc, ensure_ascii=False).encode()).decode()
    cookies.queue(
        request,
        settings,
        COOKIE,
        f"{data}.{sign(secret, 'purpose', data)}",
        max_age=settings.session_lifetime,
    )
