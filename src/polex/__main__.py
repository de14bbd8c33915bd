"""`python -m polex` runs the CLI (used where the console script is not on PATH)."""

from polex.cli import app

app()
