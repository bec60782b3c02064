"""The one module that knows where `grammars/` and `templates/` live: beside the package in a wheel, one level
up in the source tree."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _find(folder: str) -> Path:
    for root in (_PACKAGE, _PACKAGE.parent):
        if (root / folder).is_dir():
            return root / folder
    raise FileNotFoundError(f"alg2net is installed without its {folder}/ folder (looked in {_PACKAGE})")


def grammar_text() -> str:
    return (_find("grammars") / "alg.lark").read_text(encoding="utf-8")


def templates_dir() -> Path:
    return _find("templates")
