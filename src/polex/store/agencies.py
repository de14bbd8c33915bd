"""Agencies: the authorities on a node that own records and send messages."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, insert, select

from polex.store.metadata import utcnow
from polex.store.tables import agencies


@dataclass(frozen=True)
class Agency:
    code: str
    name: str
    country: str


class AgencyExists(Exception):
    pass


def add(conn: Connection, code: str, name: str, country: str) -> Agency:
    agency = Agency(code=code.upper(), name=name, country=country.upper())
    if get(conn, agency.code) is not None:
        raise AgencyExists(f"agency {agency.code} already exists")
    conn.execute(
        insert(agencies).values(
            code=agency.code, name=agency.name, country=agency.country, created_at=utcnow()
        )
    )
    return agency


def get(conn: Connection, code: str) -> Agency | None:
    row = conn.execute(select(agencies).where(agencies.c.code == code.upper())).first()
    return Agency(code=row.code, name=row.name, country=row.country) if row else None


def all_agencies(conn: Connection) -> list[Agency]:
    rows = conn.execute(select(agencies).order_by(agencies.c.code)).all()
    return [Agency(code=r.code, name=r.name, country=r.country) for r in rows]
