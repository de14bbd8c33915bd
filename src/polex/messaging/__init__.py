"""Secure messaging between agencies: signed, encrypted messages with receipts, threads and case
workspaces, delivered through a durable outbox that survives crashes and federates later."""
