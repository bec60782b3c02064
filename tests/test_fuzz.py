"""Property tests (STYLE.md, habit 13): whatever the text, `compile_source` either returns Python that compiles or
raises `Alg2NetError` located inside the text; never another exception.

Two kinds of input: programs drawn from the language's grammar (params, schedules, recurrences, init, output, states,
auxiliaries, lags, several functions, prox, implicit steps, arithmetic, comments, continued lines, names that are
Python keywords), and text that is not: random characters, and the examples with characters deleted or inserted,
tokens swapped, lines dropped or repeated. Hypothesis runs derandomized and without its example database, so every
run tries the same inputs.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import alg2net
from alg2net import Alg2NetError

# Random programs often hold dead code, which compiles with a warning; any other warning still fails a test.
pytestmark = pytest.mark.filterwarnings("ignore::alg2net.Alg2NetWarning")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = {path.stem: path.read_text(encoding="utf-8") for path in sorted((ROOT / "examples").glob("*.alg"))}

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Names a user may pick: plain ones, Python keywords and builtins, and names the generated module itself uses.
NAMES = (
    "x", "y", "z", "u", "v", "w", "h", "mu", "beta", "t", "rho", "gamma", "alpha", "x_prev", "x0", "_", "X",
    "lambda", "class", "def", "self", "torch", "nn", "math", "input_", "None", "True", "sum", "len", "range", "print",
    "forward", "blocks", "block_factory", "depth", "width", "tied", "params", "training", "super", "Any", "MLPBlock",
    "f", "g", "F", "sqrt_", "solver_tol", "register_buffer", "state_dict", "k_", "K", "kn", "T_f", "grad_f_x",
)  # fmt: skip
FUNCTIONS = ("f", "g", "F", "loss", "lambda", "self", "torch", "data_term", "reg")
POSITIVE_NUMBERS = ("1", "2", "3", "10", "0.5", ".5", "1.", "1e-3", "2.5E+2", "0.9", "1e2", "007", "4.0e0")


def _check(text: str) -> None:
    """The property itself."""
    try:
        source = alg2net.compile_source(text, filename="fuzz.alg")
    except Alg2NetError as error:
        rendered = str(error)
        assert "Traceback" not in rendered
        assert error.diagnostic.message and error.diagnostic.hint, rendered
        lines = text.splitlines() or [""]
        if error.line == 0:  # a fact about the whole file
            assert rendered.startswith("fuzz.alg: error: ")
            return
        assert 1 <= error.line <= len(lines) + 1, rendered
        assert 1 <= error.column <= len(lines[error.line - 1] if error.line <= len(lines) else "") + 1, rendered
        assert rendered.startswith(f"fuzz.alg:{error.line}:{error.column}: error: ")
        return
    compile(source, "<generated>", "exec")


# Grammatical programs ------------------------------------------------------------------------------------------------


@dataclass
class _Scope:
    """What a program has declared so far, so that most drawn programs are valid, not just grammatical."""

    constants: list[tuple[str, bool]] = field(default_factory=list)  # (name, learnable)
    schedules: list[tuple[str, bool]] = field(default_factory=list)
    recurrences: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)  # states whose update is above the current line
    auxiliaries: list[str] = field(default_factory=list)  # defined above the current line
    used: set[str] = field(default_factory=set)

    def fresh(self, draw) -> str:
        name = draw(st.sampled_from(NAMES).filter(lambda n: n not in self.used))
        self.used.add(name)
        return name


def _spaced(draw, *parts: str) -> str:
    """Join tokens with random spacing: none, spaces or a tab (at least a space between two words)."""
    text = parts[0]
    for part in parts[1:]:
        space = draw(st.sampled_from(("", " ", " ", "  ", "\t")))
        if not space and (text[-1:].isalnum() or text[-1:] == "_") and (part[:1].isalnum() or part[:1] == "_"):
            space = " "
        text += space + part
    return text


def _scalar(draw, scope: _Scope, depth: int, *, positive: bool, counter: bool, learnable: bool) -> str:
    """A well-defined scalar expression: every divisor and every argument of sqrt and log is positive by
    construction, as is every param. Fixed params only unless `learnable`; `k`, schedules and recurrences only when
    `counter`."""
    atoms = [lambda: draw(st.sampled_from(POSITIVE_NUMBERS))]
    constants = [name for name, is_learnable in scope.constants if learnable or not is_learnable]
    schedules = [name for name, is_learnable in scope.schedules if learnable or not is_learnable]
    if constants:
        atoms.append(lambda: draw(st.sampled_from(constants)))
    if counter:
        atoms.append(lambda: _spaced(draw, "(k", "+", "1)"))
        if schedules:
            atoms.append(lambda: draw(st.sampled_from(schedules)) + "[k]")
        if scope.recurrences:
            atoms.append(lambda: draw(st.sampled_from(scope.recurrences)) + draw(st.sampled_from(("[k]", "[k+1]"))))
    if not positive:
        atoms.append(lambda: "0")
        if counter:
            atoms.append(lambda: "k")

    def sub(positive: bool) -> str:
        return _scalar(draw, scope, depth - 1, positive=positive, counter=counter, learnable=learnable)

    if depth <= 0:
        return draw(st.sampled_from(atoms))()
    kinds = ["atom", "sum", "product", "quotient", "paren", "sqrt", "exp", "power", "half-power", "min", "max"]
    if not positive:
        kinds += ["difference", "neg", "log", "abs", "min-any", "product-any", "power-any"]
    kind = draw(st.sampled_from(kinds))
    if kind == "atom":
        return draw(st.sampled_from(atoms))()
    if kind in ("sum", "product", "quotient"):
        operator = {"sum": "+", "product": "*", "quotient": "/"}[kind]
        return _spaced(draw, sub(positive), operator, sub(True))
    if kind == "product-any":
        return _spaced(draw, sub(False), "*", sub(False))
    if kind == "difference":
        return _spaced(draw, sub(False), "-", sub(False))
    if kind == "neg":
        return "-" + sub(False)
    if kind == "paren":
        return f"({sub(positive)})"
    if kind in ("sqrt", "log"):
        return f"{kind}({sub(True)})"
    if kind in ("exp", "abs"):
        return f"{kind}({sub(False)})"
    if kind in ("power", "half-power", "power-any"):
        exponent = draw(st.sampled_from(("0.5", "1.5"))) if kind == "half-power" else draw(st.sampled_from("23"))
        operand = f"({sub(kind != 'power-any')})"
        return _spaced(draw, operand, draw(st.sampled_from(("^", "**"))), exponent)
    # min of positives and max(positive, anything) are positive
    arguments = [sub(positive and (kind == "min" or not i)) for i in range(draw(st.integers(2, 3)))]
    return f"{kind.removesuffix('-any')}({', '.join(arguments)})"


def _vector(draw, scope: _Scope, target: str, implicit: bool, depth: int) -> str:
    """A vector expression valid on the right-hand side of `target`'s update; `target[k+1]` inside a gradient when
    `implicit`."""
    lags = ("[k]", "[k-1]", "[k-2]", "[k - 3]", "[k-0]", "[k+0]")
    terms = [lambda: draw(st.sampled_from(scope.states)) + draw(st.sampled_from(lags))]
    if scope.updated:
        terms.append(lambda: draw(st.sampled_from(scope.updated)) + "[k+1]")
    if scope.auxiliaries:
        terms.append(lambda: draw(st.sampled_from(scope.auxiliaries)) + "[k]")

    def coefficient(positive: bool) -> str:
        return _scalar(draw, scope, draw(st.integers(0, 2)), positive=positive, counter=True, learnable=True)

    sub = lambda: _vector(draw, scope, target, implicit, depth - 1)
    if depth <= 0:
        return draw(st.sampled_from(terms))()
    kind = draw(st.sampled_from(("term", "sum", "sum", "scaled", "divided", "neg", "grad", "grad", "prox", "paren")))
    if kind == "term":
        return draw(st.sampled_from(terms))()
    if kind == "sum":
        return _spaced(draw, sub(), draw(st.sampled_from("+-")), sub())
    if kind == "scaled":
        left, right = f"({coefficient(False)})", sub()
        return _spaced(draw, *((left, "*", right) if draw(st.booleans()) else (right, "*", left)))
    if kind == "divided":
        return _spaced(draw, sub(), "/", f"({coefficient(True)})")
    if kind == "neg":
        return "-" + sub()
    if kind == "paren":
        return f"({sub()})"
    function = draw(st.sampled_from(FUNCTIONS))
    point = sub()
    if implicit and draw(st.integers(0, 2)) == 0:  # the unknown inside the gradient: an implicit step
        point = _spaced(draw, point, "+", f"0.5 * {target}[k+1]")
    if kind == "grad":
        return f"grad {function}({point})"
    return f"prox {function}({point}, {coefficient(True)})"


@st.composite
def programs(draw) -> str:
    """A program of the grammar, nearly always valid (so that code generation runs too)."""
    scope = _Scope()
    lines = [f"# a random program\nalgorithm {scope.fresh(draw)}"]
    for _ in range(draw(st.integers(0, 4))):
        name = scope.fresh(draw)
        kind = draw(st.sampled_from(("constant", "constant", "schedule", "recurrence")))
        learnable = draw(st.booleans()) and kind != "recurrence"
        suffix = " learnable" if learnable else ""
        if kind == "constant":
            value = _scalar(draw, scope, draw(st.integers(0, 3)), positive=True, counter=False, learnable=learnable)
            lines.append(_spaced(draw, "param", name, "=", value) + suffix)
            scope.constants.append((name, learnable))
        elif kind == "schedule":
            value = _scalar(draw, scope, draw(st.integers(0, 3)), positive=True, counter=True, learnable=learnable)
            lines.append(_spaced(draw, "param", f"{name}[k]", "=", value) + suffix)
            scope.schedules.append((name, learnable))
        else:
            start = _scalar(draw, scope, draw(st.integers(0, 2)), positive=True, counter=False, learnable=False)
            scope.recurrences.append(name)  # the step may use name[k] (and name[k+1]: an error the resolver finds)
            step = _scalar(draw, scope, draw(st.integers(0, 3)), positive=True, counter=True, learnable=False)
            lines += [f"param {name}[0] = {start}", f"param {name}[k+1] = {step}"]
    lines.append("")
    states = [scope.fresh(draw) for _ in range(draw(st.integers(1, 3)))]
    auxiliaries = [scope.fresh(draw) for _ in range(draw(st.integers(0, 2)))]
    scope.states = list(states)
    order = draw(st.permutations([(s, True) for s in states] + [(a, False) for a in auxiliaries]))
    for target, is_state in order:
        implicit = is_state and draw(st.integers(0, 3)) == 0
        value = _vector(draw, scope, target, implicit, draw(st.integers(1, 4)))
        if draw(st.integers(0, 5)) == 0:  # continue the statement over lines inside parentheses
            value = "(\n    " + value + "\n)"
        lines.append(f"{target}[k{'+1' if is_state else ''}] = {value}")
        (scope.updated if is_state else scope.auxiliaries).append(target)
    if len(states) > 1 or draw(st.booleans()):
        lines.insert(draw(st.integers(1, len(lines))), f"output {draw(st.sampled_from(states))}")
    for state in draw(st.lists(st.sampled_from(states), unique=True, max_size=len(states))):
        lines.insert(draw(st.integers(1, len(lines))), f"init {state} = {draw(st.sampled_from(('0', 'input')))}")
    if draw(st.booleans()):
        lines = [line + "  # comment ( ) [ ] grad" if line and "\n" not in line else line for line in lines]
    newline = draw(st.sampled_from(("\n", "\n", "\r\n")))
    return newline.join(lines) + draw(st.sampled_from(("", newline, newline * 2)))


@FUZZ
@given(programs())
def test_grammatical_programs(text: str):
    """Beyond compiling, a valid program's module builds and runs a forward pass of the input's shape."""
    try:
        source = alg2net.compile_source(text, filename="fuzz.alg")
    except Alg2NetError:
        _check(text)
        return
    namespace: dict = {}
    exec(compile(source, "<generated>", "exec"), namespace)  # noqa: S102 - the compiler's own output
    network = namespace[re.findall(r"^class (\w+)\(nn\.Module\):", source, re.MULTILINE)[-1]]
    try:
        model = network(3, 12)  # deep enough that a state read at a lag of 3 through a few others reaches the output
    except OverflowError:  # params are Python floats: `exp(y^2)` with y = 250 overflows, as in any Python code
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a random implicit step may not converge
        output = model(torch.randn(2, 3, generator=torch.Generator().manual_seed(0)))
        assert output.shape == (2, 3)
        if output.requires_grad:
            output.sum().backward()
    # No dead code: every function's blocks and every learnable param take part. (A state that never reads its own
    # past, `z[k+1] = grad f(y[k])`, uses only the last layer's block: that is the algorithm, not dead code.)
    reached = {_owner(name) for name, p in model.named_parameters() if p.grad is not None}
    assert {_owner(name) for name, _ in model.named_parameters()} == reached


def _owner(name: str) -> str:
    """`blocks.f` for any parameter of any layer's block of f; the param's own name otherwise."""
    return ".".join(name.split(".")[:2]) if name.startswith("blocks.") else name


@settings(FUZZ, max_examples=3)
@given(st.lists(programs(), min_size=20, max_size=20))
def test_grammatical_programs_are_mostly_valid(texts: list[str]):
    """The generator is worth its time only if most of its programs get through to code generation."""
    valid = 0
    for text in texts:
        try:
            alg2net.compile_source(text)
            valid += 1
        except Alg2NetError:
            pass
    assert valid >= 0.7 * len(texts)


# Ungrammatical text --------------------------------------------------------------------------------------------------

ALPHABET = st.sampled_from(list("xyzkhgf_0123456789.eE+-*/^()[],=#\n \t") + ["grad ", "prox ", "param ", "k+1", "é"])


@FUZZ
@given(
    st.sampled_from(("", "algorithm a\n", "algorithm a\nx[k+1] = ")),
    st.lists(ALPHABET, max_size=60).map("".join) | st.text(max_size=60),
)
def test_random_text(prefix: str, text: str):
    _check(prefix + text)


_TOKEN = re.compile(r"\s+|[A-Za-z_][A-Za-z0-9_]*|\d*\.?\d+(?:[eE][+-]?\d+)?|\*\*|.", re.DOTALL)
_INSERTS = ("(", ")", "[", "]", "=", "+", "*", "^", ",", "\n", "k", "grad", "prox", "learnable", "1.5", "#", "x[k+1]")


@st.composite
def mutated_examples(draw) -> str:
    """An example with a few random edits: deletions, insertions, swapped tokens, dropped or repeated lines."""
    text = EXAMPLES[draw(st.sampled_from(sorted(EXAMPLES)))]
    for _ in range(draw(st.integers(1, 3))):
        edit = draw(st.sampled_from(("delete", "insert", "swap", "drop-line", "repeat-line", "replace")))
        tokens = _TOKEN.findall(text)
        if edit in ("drop-line", "repeat-line"):
            lines = text.split("\n")
            i = draw(st.integers(0, len(lines) - 1))
            lines[i : i + 1] = [] if edit == "drop-line" else [lines[i], lines[i]]
            text = "\n".join(lines)
        elif edit == "delete":
            start = draw(st.integers(0, len(text) - 1))
            text = text[:start] + text[start + draw(st.integers(1, 4)) :]
        elif edit == "insert":
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.sampled_from(_INSERTS) | st.characters()) + text[at:]
        elif edit == "swap":
            words = [i for i, token in enumerate(tokens) if not token.isspace()]
            i, j = draw(st.integers(0, len(words) - 1)), draw(st.integers(0, len(words) - 1))
            tokens[words[i]], tokens[words[j]] = tokens[words[j]], tokens[words[i]]
            text = "".join(tokens)
        else:
            i = draw(st.integers(0, len(tokens) - 1))
            tokens[i] = draw(st.sampled_from(_INSERTS + ("", "x[k-1]", "y[k]", "0", "-")))
            text = "".join(tokens)
    return text


@FUZZ
@given(mutated_examples())
def test_mutated_examples(text: str):
    _check(text)


# Inputs the fuzzer once crashed the compiler with ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["exp(1)", "exp(h / h)"])
def test_exp_of_one_prints_as_math_e(value: str):
    source = alg2net.compile_source(f"algorithm a\nparam h = 2\nparam c = {value}\nx[k+1] = x[k] - c * grad f(x[k])\n")
    assert "c: float = math.e," in source and "import math" in source
    compile(source, "<generated>", "exec")


@pytest.mark.parametrize(
    "param", ["param c[k] = 0.5", "param c[k] = 0.5 learnable", "param c[0] = 1\nparam c[k+1] = c[k]"]
)
def test_per_layer_param_in_implicit_update_is_read_in_place(param: str):
    source = alg2net.compile_source(f"algorithm a\n{param}\nx[k+1] = x[k] - c[k] * grad f(x[k+1])\n")
    assert "def _x_update(self, k: int, x: torch.Tensor, x_next: torch.Tensor) -> torch.Tensor:" in source
    assert 'return x - self.c[k] * self._block("f", k)(x_next)' in source
    compile(source, "<generated>", "exec")


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ("param h = 1 / 0\nx[k+1] = x[k] - h * grad f(x[k])", 11),
        ("x[k+1] = x[k] / (k - k)", 10),
        ("param h = sqrt(-1)\nx[k+1] = h * x[k]", 11),
        ("param h = log(0)\nx[k+1] = h * x[k]", 11),
        ("param h = 0 ^ (-1)\nx[k+1] = h * x[k]", 11),
        ("param h = min(1, 1 / 0)\nx[k+1] = h * x[k]", 18),
    ],
)
def test_arithmetic_without_a_finite_real_value_is_a_located_error(text: str, column: int):
    with pytest.raises(Alg2NetError) as caught:
        alg2net.compile_source("algorithm a\n" + text + "\n")
    assert (caught.value.code, caught.value.line, caught.value.column) == ("undefined-value", 2, column)


@pytest.mark.parametrize(
    ("value", "column"),
    [("1e5000", 11), ("1e-400", 11), ("9 ^ 9 ^ 9", 11), ("2 * 1e200 * 1e200", 11), ("1 + exp(250 ^ 2)", 15)],
)
def test_numbers_beyond_float64_are_a_located_error(value: str, column: int):
    with pytest.raises(Alg2NetError) as caught:
        alg2net.compile_source(f"algorithm a\nparam h = {value}\nx[k+1] = h * x[k]\n")
    assert (caught.value.code, caught.value.line, caught.value.column) == ("number-out-of-range", 2, column)


def test_a_block_call_multiplied_by_zero_is_not_made():
    source = alg2net.compile_source("algorithm a\noutput v\nv[k+1] = v[k]\nw[k+1] = v[k]\nh[k] = grad f(v[k-1]) * 0\n")
    assert "self._block(" not in source.split("def forward")[-1]


@pytest.mark.parametrize(
    ("update", "value"),
    [
        ("x[k+1] = x[k] - x[k]", 0.0),
        ("x[k+1] = x[k] + grad f(x[k] - x[k])", 3.0),
        ("x[k+1] = prox f(x[k] - x[k], 1)", -0.5),
    ],
)
def test_a_vector_whose_terms_cancel_is_a_zero_tensor(update: str, value: float, load_source):
    """With the block v -> v + 1 the layers are known: x + T(0) = x + 1 twice from x = 1 gives 3, and prox_f(0, 1)
    is the z with z = -(z + 1), z = -1/2 (to solver tolerance)."""
    network = load_source(f"algorithm a\n{update}\n")(3, 2, block_factory=lambda name, layer: _PlusOne())
    output = network(torch.ones(2, 3))
    assert torch.allclose(output, torch.full((2, 3), value), atol=1e-4)


class _PlusOne(torch.nn.Module):
    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return v + 1


def test_an_algorithm_without_params_refuses_any(load_source):
    network = load_source("algorithm a\nx[k+1] = x[k] - grad f(x[k])\n")
    assert network(3, 2)(torch.ones(1, 3)).shape == (1, 3)
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'h'"):
        network(3, 2, h=1)


@pytest.mark.parametrize(("value", "printed"), [("1e300", "1e300"), ("1e-30", "1e-30"), ("0.000125", "0.000125")])
def test_long_numbers_print_in_scientific_notation(value: str, printed: str):
    source = alg2net.compile_source(f"algorithm a\nparam h = {value}\nx[k+1] = h * x[k]\n")
    assert f"h: float = {printed}," in source


def test_params_named_like_the_solver_attributes_are_renamed(load_source):
    text = "algorithm a\nparam solver_tol = 0.5\nparam _prox = 1\nx[k+1] = x[k] - solver_tol * _prox * grad f(x[k+1])\n"
    network = load_source(text)(3, 2, solver_tol=1e-6)
    assert (network.solver_tol, float(network.solver_tol_), float(network._prox_)) == (1e-6, 0.5, 1.0)
    assert network(torch.ones(2, 3)).shape == (2, 3)
    assert float(load_source(text)(3, 2, solver_tol_=0.25).solver_tol_) == 0.25  # the param's own keyword


def test_a_recurrence_may_start_at_an_irrational_value():
    text = "algorithm x\nparam z[0] = sqrt(2)\nparam z[k+1] = z[k]/2 + 1\nv[k+1] = v[k] - z[k]*grad f(v[k])\n"
    assert alg2net.check_source(text)["verdict"] == "guaranteed"


@pytest.mark.parametrize("name", ["__init__", "__dict__", "__call__", "__module__", "__class__", "__x", "__"])
def test_dunder_and_mangled_names_keep_one_underscore(name: str, load_source):
    network = load_source(f"algorithm a\nparam {name} = 0.5\nx[k+1] = x[k] - {name}*grad {name}(x[k])\n")
    kept = "_" + name.lstrip("_")
    model = network(3, 2, **{kept: 0.25})
    assert float(getattr(model, kept)) == 0.25 and list(model.blocks) == [kept]
    assert model(torch.ones(2, 3)).shape == (2, 3)


def test_control_characters_in_comments_are_escaped_in_the_docstring():
    comment = "# nul \x00 esc \x1b del \x7f tab \t cr \r line separator \u2028 end"
    source = alg2net.compile_source(f"algorithm a\n{comment}\nx[k+1] = x[k] - grad f(x[k])\n")
    assert all(c == "\n" or c.isprintable() for c in source)
    namespace: dict = {}
    exec(compile(source, "<generated>", "exec"), namespace)  # noqa: S102 - the compiler's own output
    assert "nul \x00 esc \x1b del \x7f tab \t cr \r line separator \u2028 end" in namespace["__doc__"]


def test_a_state_read_only_in_terms_that_cancel_is_left_out(load_source):
    text = "algorithm x\noutput z\nz[k+1] = u[k] - u[k]\nu[k+1] = grad f(z[k+1]) + z[k+1]\n"
    with pytest.warns(alg2net.Alg2NetWarning, match="the state 'u' reaches the output only through terms that cancel"):
        source = alg2net.compile_source(text)
    assert "nn.ModuleDict({})" in source and "grad_f" not in source and "u_next" not in source


def test_a_learnable_param_left_initialising_others_once_terms_cancel_is_refused():
    text = "algorithm x\nparam y = 1 learnable\nparam u = y learnable\nx[k+1] = x[k] - u*grad f(x[k]) + y*0*x[k]\n"
    with pytest.raises(Alg2NetError) as caught:
        alg2net.compile_source(text)
    assert (caught.value.code, caught.value.line) == ("learnable-only-initialises", 2)
