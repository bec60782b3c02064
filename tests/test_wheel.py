"""The grammar and templates travel inside the wheel: a wheel-installed alg2net compiles outside the source tree."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_contains_resources_and_compiles_outside_the_source_tree(tmp_path: Path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("alg2net-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    assert "alg2net/grammars/alg.lark" in names
    templates = {f"alg2net/{path.relative_to(ROOT).as_posix()}" for path in (ROOT / "templates").rglob("*.jinja")}
    assert "alg2net/templates/module.py.jinja" in templates and templates <= names
    assert not any(name.startswith(("tests/", "examples/")) for name in names)

    site = tmp_path / "site"
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import alg2net;"
        "assert alg2net.__file__.startswith(sys.argv[1]), alg2net.__file__;"
        "print(alg2net.compile_source(open(sys.argv[2]).read()))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(site), str(ROOT / "examples" / "heavy_ball.alg")],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    )
    assert "class HeavyBall(nn.Module):" in result.stdout
