"""The browser application: server-rendered pages over the same use cases as API and CLI."""
