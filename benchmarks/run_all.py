"""Run every benchmark at the scale its issue names; each prints its table and writes its JSON
under benchmarks/results/. Pass a name (e.g. `search`) to run only that one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main() -> int:
    wanted = set(sys.argv[1:])
    failed = 0
    for script in sorted(HERE.glob("*_bench.py")):
        if wanted and script.stem.removesuffix("_bench") not in wanted:
            continue
        print(f"== {script.name}", flush=True)
        failed += subprocess.call([sys.executable, str(script)]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
