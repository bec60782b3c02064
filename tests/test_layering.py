"""The shape of the code: stages import only earlier stages, analysis and code generation are siblings, `check`
never loads black or jinja2, the tables of the stages cover each other, and no function grows past 50 lines."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp

from alg2net import ir
from alg2net.derive import FUNCTIONS, TRANSLATIONS, to_sympy
from alg2net.printing import PRINTABLE, DslPrinter, TorchPrinter
from alg2net.resolve import BUILTINS, VECTOR_RULES
from alg2net.syntax import parse

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "alg2net"
EXAMPLES = ROOT / "examples"
MAX_FUNCTION_LINES = 50

# Module -> the alg2net modules it may import (a package stands for its modules). The front end is a chain:
# a stage imports only earlier stages.
FRONT_END = {
    "ir": set(),
    "errors": {"ir"},
    "resources": set(),
    "syntax": {"ir", "errors", "resources"},
    "resolve": {"ir", "errors"},
    "derive": {"ir", "errors", "resolve"},
    "printing": {"ir", "derive", "resolve"},
    "values": {"ir", "errors", "derive", "resolve", "printing"},
    "inverse": {"aberth", "derive", "printing", "resolve"},
    "adjoint": {"derive", "resolve"},
    "constraints": set(),  # a leaf: the maps of --constrain, shared by analysis, codegen and `check --weights`
    "aberth": set(),  # a leaf: polynomial roots, shared by analysis (the verdict) and inverse (the anchors)
}
# The leaves that hold plain data for several stages import only these standard modules.
LEAVES = {
    "ir": {"__future__", "enum", "dataclasses"},
    "constraints": {"__future__", "math", "dataclasses", "collections"},
    "aberth": {"__future__", "math"},
}
SIBLING_FORBIDDEN = {
    "analysis": {"codegen", "pipeline", "api", "cli"},
    "codegen": {"analysis", "pipeline", "api", "cli"},
}


def _modules() -> dict[str, Path]:
    return {
        ".".join(path.relative_to(PACKAGE).with_suffix("").parts): path
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "__main__.py"
    }


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function, relative to the package where it is ours."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            if node.module == "alg2net":
                found |= {f"alg2net.{alias.name}" for alias in node.names}
    return found


def _ours(imports: set[str]) -> set[str]:
    return {name.removeprefix("alg2net.") for name in imports if name.startswith("alg2net.")}


@pytest.mark.parametrize("module", sorted(FRONT_END))
def test_front_end_stages_import_only_earlier_stages(module):
    path = PACKAGE / f"{module}.py"
    assert _ours(_imports(path)) <= FRONT_END[module]
    if module in LEAVES:
        assert {name.split(".")[0] for name in _imports(path)} <= LEAVES[module]


@pytest.mark.parametrize("package", sorted(SIBLING_FORBIDDEN))
def test_analysis_and_codegen_are_siblings(package):
    for path in sorted((PACKAGE / package).glob("*.py")):
        imported = {name.split(".")[0] for name in _ours(_imports(path))}
        assert imported & SIBLING_FORBIDDEN[package] == set(), path.name


# Optional dependencies of the compiler, each imported by one module and only inside a function: torch to read a
# checkpoint (`check --weights`), matplotlib to draw (`check --plot`). Every other module, and every module at its
# top, imports neither (the generated code and the tests import torch).
OPTIONAL = {"torch": "weights", "matplotlib": "plot"}


def _top_level_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_compiler_imports_torch_only_to_read_a_checkpoint():
    for module, path in _modules().items():
        for dependency, owner in OPTIONAL.items():
            imported = {name for name in _imports(path) if name.split(".")[0] == dependency}
            assert module == owner or not imported, f"{module} imports {dependency}"
            assert not {name for name in _top_level_imports(path) if name.split(".")[0] == dependency}, module
    assert "torch" in _imports(_modules()["weights"]) and "matplotlib" in _imports(_modules()["plot"])


def test_api_adds_only_load():
    tree = ast.parse((PACKAGE / "api.py").read_text(encoding="utf-8"))
    defined = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    assert defined == {"load"}


@pytest.mark.parametrize("command", ["check", "show"])
def test_check_and_show_load_neither_black_nor_jinja2(command):
    script = (
        "import sys; from alg2net.cli import main; "
        f"main([{command!r}, {str(EXAMPLES / 'heavy_ball.alg')!r}]); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'black', 'jinja2', 'torch'}), file=sys.stderr)"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert run.stderr.strip().splitlines()[-1] == "[]"


def test_every_expression_kind_has_a_resolve_rule_and_a_translation():
    assert set(VECTOR_RULES) == set(ir.EXPR_KINDS)
    assert set(TRANSLATIONS) == set(ir.EXPR_KINDS)


def test_builtins_translations_and_printers_cover_each_other():
    """Every built-in of the language has a SymPy translation whose node kinds the torch printer accepts, for
    numbers and for tensors, and the language printer writes it back under its own name."""
    assert set(BUILTINS) == set(FUNCTIONS)
    a, b = sp.Symbol("a", real=True), sp.Symbol("b", real=True)
    for function, (fewest, _most) in BUILTINS.items():
        args = "(a, b)" if fewest == 2 else "(a)"
        text = f"algorithm t\nparam a = 2\nparam b = 3\nparam c = {function}{args}\nx[k+1] = x[k]\n"
        expr = to_sympy(parse(text).statements[3].value)
        kinds = {type(node) for node in sp.preorder_traversal(expr)}
        assert all(issubclass(kind, PRINTABLE) for kind in kinds), (function, kinds)
        for tensors in (frozenset(), frozenset({a})):
            printed = TorchPrinter({a: "a", b: "b"}, tensors).doprint(expr)
            assert printed and "Min" not in printed and "Max" not in printed
        dsl = DslPrinter().doprint(expr)
        assert dsl.startswith(function if function != "sqrt" else "sqrt"), dsl
        reparsed = to_sympy(parse(text.replace(f"{function}{args}", dsl)).statements[3].value)
        assert reparsed == expr


def test_every_printable_kind_is_reachable_from_the_language():
    text = "algorithm t\nparam a = 2\nparam c = exp(1) + exp(a) + a^3 * log(abs(a)) - min(a, 1) / max(a, 2)\nparam s[k] = k\n"
    statements = parse(text + "x[k+1] = x[k] - s[k] * grad f(x[k])\n").statements
    nodes = [node for s in statements[2:4] for node in sp.preorder_traversal(to_sympy(s.value))]
    nodes += list(sp.preorder_traversal(to_sympy(statements[4].value)))
    for kind in PRINTABLE:
        assert any(isinstance(node, kind) for node in nodes), kind


def test_no_function_is_longer_than_50_lines():
    long = []
    for module, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{module}.{node.name}: {lines} lines")
    assert long == []
