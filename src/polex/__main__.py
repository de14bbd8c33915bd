"""`python -m polex` runs the CLI (used where the console script is not on PATH)."""

from polex.cli import app

# guarded: a worker process (the batch export's) re-imports the main module as __mp_main__
if __name__ == "__main__":
    app()
