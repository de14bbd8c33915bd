"""Persistence: one SQLAlchemy MetaData shared by every capability, SQLite or PostgreSQL."""
