"""Accounts: users and their API tokens and web sessions (only hashes are stored), and the
agencies designated as the node's compliance unit."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Integer, String, Table

from polex.store.metadata import Json, Timestamp, metadata

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("agency", String(32), ForeignKey("agencies.code"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(255)),
    Column("totp_secret", String(64)),
    # the last TOTP time step accepted: a code is never accepted twice
    Column("totp_last_step", BigInteger),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", Timestamp),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", Timestamp, nullable=False),
)

# API tokens (kind "api") and web sessions (kind "web") alike: hashed, expiring, revocable.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("kind", String(16), nullable=False, default="api"),
    Column("scopes", Json, nullable=False),
    Column("expires_at", Timestamp),
    Column("revoked_at", Timestamp),
    Column("last_used_at", Timestamp),
    Column("created_at", Timestamp, nullable=False),
)

# Agencies whose supervisors review every agency's records (the node's compliance unit).
compliance_units = Table(
    "compliance_units",
    metadata,
    Column("agency", String(32), ForeignKey("agencies.code"), primary_key=True),
    Column("designated_by", String(160), nullable=False),
    Column("designated_at", Timestamp, nullable=False),
)
