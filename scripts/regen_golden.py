"""Regenerate tests/golden/ through the real command line: one module per example, with default options.

    python scripts/regen_golden.py

Review the diff before committing: a golden file changes only when the generated code is meant to change.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
GOLDEN = ROOT / "tests" / "golden"


def compile_command(example: Path, output: Path) -> list[str]:
    """The command that writes `example`'s golden module, as a user would type it (paths relative to ROOT)."""
    return [
        sys.executable,
        "-m",
        "alg2net",
        "compile",
        str(example.relative_to(ROOT)),
        "-o",
        str(output.relative_to(ROOT)),
    ]


def main() -> int:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for stale in GOLDEN.glob("*.py"):
        stale.unlink()
    for example in sorted(EXAMPLES.glob("*.alg")):
        output = GOLDEN / f"{example.stem}.py"
        subprocess.run(compile_command(example, output), cwd=ROOT, check=True)
        print(f"wrote {output.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
