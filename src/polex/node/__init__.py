"""A node: one organisation's installation — its home directory, keys, database and services."""
