"""The tamper-evident audit trail: every access is an entry, chained by hashes."""
