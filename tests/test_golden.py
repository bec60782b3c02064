"""Every example's generated module, byte for byte (STYLE.md habit 11).

A failure prints the diff; if the change is intended, run `python scripts/regen_golden.py` and review the diff.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

import alg2net

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.alg"))
GOLDEN = ROOT / "tests" / "golden"


def test_every_example_has_a_golden_file_and_no_golden_file_is_stale():
    assert {p.stem for p in EXAMPLES} == {
        p.stem for p in GOLDEN.glob("*.py")
    }, "examples/ and tests/golden/ disagree; run `python scripts/regen_golden.py`"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_generated_module_matches_golden_file(example: Path):
    generated = alg2net.compile_source(example.read_text(encoding="utf-8"), filename=str(example))
    expected = (GOLDEN / f"{example.stem}.py").read_text(encoding="utf-8")
    if generated != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                generated.splitlines(keepends=True),
                f"tests/golden/{example.stem}.py",
                "generated",
            )
        )
        pytest.fail(f"{diff}\nIf this change is intended, run `python scripts/regen_golden.py` and review the diff.")
