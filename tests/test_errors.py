"""Every input error (dsl.md, Errors; module.md): its code, where it points, what it says, and how it renders.

Each case is an `.alg` text with `§` just before the character the caret must point at (at the end of a line when
the error is "nothing more came"). The marker is removed before compiling, so line and column are computed from
the text itself, never copied from the compiler's output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

import alg2net
from alg2net import Alg2NetError
from alg2net.syntax import KEYWORDS, SYNTAX_ERRORS

ROOT = Path(__file__).resolve().parent.parent
MARK = "§"
HEADER = "algorithm a\n"
GOOD_UPDATE = "x[k+1] = x[k] - grad f(x[k])\n"


@dataclass(frozen=True)
class Case:
    code: str
    text: str  # `.alg` source with MARK where the caret belongs
    says: tuple[str, ...] = ()  # words the message must contain (case-insensitive), from the spec's wording
    message: str | None = None  # the exact message, where the spec shows it

    @property
    def source(self) -> str:
        return self.text.replace(MARK, "")

    @property
    def position(self) -> tuple[int, int]:
        assert self.text.count(MARK) == 1, "a case marks exactly one position"
        before = self.text[: self.text.index(MARK)]
        return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


def _case(code: str, *lines: str, says: tuple[str, ...] = (), message: str | None = None) -> Case:
    return Case(code, "\n".join(lines) + "\n", says, message)


def _body(code: str, *lines: str, says: tuple[str, ...] = (), message: str | None = None) -> Case:
    """A case after the line `algorithm a`."""
    return _case(code, "algorithm a", *lines, says=says, message=message)


CASES = {
    # The example of dsl.md, Errors: the same line 7 and the same message, word for word.
    "spec-example": _case(
        "undefined-name",
        "# Nesterov's accelerated gradient with learnable constant momentum.",
        "algorithm nesterov",
        "",
        "param h = 1",
        "",
        "y[k]   = x[k] + 0.5 * (x[k] - x[k-1])",
        "x[k+1] = y[k] + §mu * x[k]",
        message="unknown name 'mu'",
    ),
    # Syntax ------------------------------------------------------------------------------------------------------
    "missing-equals": _body("missing-equals", "x[k+1] §x[k]", says=("=",)),
    "missing-equals-param": _body("missing-equals", "param h §1", says=("=",)),
    "missing-index": _body("missing-index", "x §= x[k]", says=("index",)),
    "bad-index-expression": _body("bad-index", "x[k+1] = x[k§*2]", says=("index",)),
    "bad-index-fraction": _body("bad-index", "x[k+1] = x[k-§1.5]", says=("whole number", "1.5")),
    "bad-index-absolute-vector": _body("bad-index", "x[k+1] = x[§0]", says=("relative to k",)),
    "missing-expression": _body("missing-expression", "x[k+1] = x[k] +§", says=("expression",)),
    "missing-expression-param": _body("missing-expression", "param h =§", says=("expression",)),
    "two-statements": _body("two-statements", "x[k+1] = x[k] §y[k+1] = x[k]", says=("statement",)),
    "bad-init-name": _body("bad-init", "init x = §x", GOOD_UPDATE, says=("0", "input")),
    "bad-init-number": _body("bad-init", "init x = §2", GOOD_UPDATE, says=("0", "input")),
    "bad-statement-first": _case("bad-statement", "§= x[k]", says=("statement",)),
    "bad-statement-later": _body("bad-statement", "param h = 1", "§1 = x[k]", says=("statement",)),
    "bad-statement-after-blank": _body("bad-statement", "", "§(x) = 1", says=("statement",)),
    "missing-name-algorithm": _case("missing-name", "algorithm §1", says=("name",)),
    "missing-name-param": _body("missing-name", "param §= 1", says=("name",)),
    "missing-name-grad": _body("missing-name", "x[k+1] = grad §(x[k])", says=("name",)),
    "keyword-as-param": _body("keyword-as-name", "param §grad = 1", says=("'grad'", "keyword")),
    "keyword-as-state": _body("keyword-as-name", "§input[k+1] = 2 * x[k]", says=("'input'", "keyword")),
    "keyword-as-function": _body("keyword-as-name", "x[k+1] = x[k] - grad §prox(x[k])", says=("'prox'", "keyword")),
    "bad-character": _body("bad-character", "x[k+1] = x[k] §~ 1", says=("'~'",)),
    "non-ascii-name": _case("bad-character", "algorithm caf§é", says=("'é'",)),
    "stray-close": _body("unbalanced-parenthesis", "x[k+1] = x[k]§)", says=("')'",)),
    "never-closed-at-end": _body("unbalanced-parenthesis", "x[k+1] = §(x[k]", "  + 1", says=("'('", "never closed")),
    "never-closed-before-next-statement": _body(
        "unbalanced-parenthesis", "x[k+1] = x[k] - grad f§(x[k]", "param h = 1", says=("'('", "never closed")
    ),
    "syntax-fallback": _body("syntax", "x[k+1] = x[k] ^ §^", says=("'^'",)),
    "prox-one-argument": _body("syntax", "x[k+1] = prox g(x[k]§)", says=("')'",)),
    # The program as a whole --------------------------------------------------------------------------------------
    "missing-algorithm": _case("missing-algorithm", "§param h = 1", GOOD_UPDATE, says=("algorithm",)),
    "missing-algorithm-empty": Case("missing-algorithm", "§", says=("algorithm",)),
    "misspelled-grad": _body("misspelled-keyword", "x[k+1] = x[k] - §gard f(x[k])", says=("'gard'",)),
    "misspelled-param": _body("misspelled-keyword", "§parm h = 1", GOOD_UPDATE.strip(), says=("'parm'",)),
    "learnable-only-initialises": _body(
        "learnable-only-initialises",
        "§param a = 0.5 learnable",
        "param s[k] = a*k learnable",
        "x[k+1] = x[k] - s[k]*grad f(x[k])",
        says=("no gradient",),
    ),
    "too-deep-update": _body("too-deep", "§x[k+1] = x[k]" + " + x[k]" * 5000, says=("5000 levels",)),
    "too-deep-param": _body("too-deep", "§param h = 1" + " + 1" * 5000, GOOD_UPDATE.strip(), says=("deep",)),
    "undefined-value": _body("undefined-value", "param h = §1/0", "x[k+1] = x[k] - h*grad f(x[k])", says=("finite",)),
    "number-out-of-range": _body(
        "number-out-of-range", "param h = §1e999", "x[k+1] = x[k] - h*grad f(x[k])", says=("range",)
    ),
    "algorithm-not-first": _case("algorithm-not-first", "param h = 1", "§algorithm a", GOOD_UPDATE, says=("first",)),
    "duplicate-algorithm": _body("duplicate-algorithm", GOOD_UPDATE, "§algorithm b", says=("one algorithm",)),
    "no-state": _case("no-state", "§algorithm a", "param h = 1", says=("state",)),
    "missing-output": _body(
        "missing-output", "x[k+1] = x[k] - grad f(z[k])", "§z[k+1] = x[k+1]", says=("output", "x", "z")
    ),
    "duplicate-output": _body("duplicate-output", GOOD_UPDATE, "output x", "§output x", says=("one",)),
    "output-of-auxiliary": _body(
        "not-a-state", "y[k] = x[k]", "x[k+1] = y[k] - grad f(y[k])", "§output y", says=("'y'", "auxiliary")
    ),
    "init-of-unknown": _body("not-a-state", GOOD_UPDATE, "§init q = 0", says=("'q'", "state")),
    "duplicate-init": _body("duplicate-init", GOOD_UPDATE, "init x = 0", "§init x = input", says=("'x'", "twice")),
    # Params ------------------------------------------------------------------------------------------------------
    "duplicate-param": _body("duplicate-name", "param h = 1", "§param h = 2", GOOD_UPDATE, says=("'h'",)),
    "duplicate-recurrence-start": _body(
        "duplicate-name", "param t[0] = 1", "§param t[0] = 2", "param t[k+1] = t[k]", GOOD_UPDATE, says=("'t[0]'",)
    ),
    "param-updated-as-vector": _body(
        "duplicate-name", "param h = 1", "§h[k+1] = h[k]", GOOD_UPDATE, says=("'h'", "param")
    ),
    "missing-recurrence-step": _body("missing-recurrence-step", "§param t[0] = 1", GOOD_UPDATE, says=("'t'",)),
    "missing-recurrence-start": _body("missing-recurrence-start", "§param t[k+1] = t[k]", GOOD_UPDATE, says=("'t'",)),
    "learnable-recurrence": _body(
        "learnable-recurrence", "§param t[0] = 1 learnable", "param t[k+1] = t[k]", GOOD_UPDATE, says=("learnable",)
    ),
    "param-index-lag": _body("bad-param-index", "param t[§k-1] = 1", GOOD_UPDATE, says=("[k-1]",)),
    "recurrence-step-lag": _body(
        "bad-param-index", "param t[0] = 1", "param t[k+1] = §t[k-1]", GOOD_UPDATE, says=("t[k]",)
    ),
    "schedule-ahead": _body(
        "bad-param-index", "param mu[k] = 1", "param h = 2 * §mu[k+1]", GOOD_UPDATE, says=("'mu'",)
    ),
    "constant-indexed": _body("bad-param-index", "param h = 1", "x[k+1] = §h[k] * x[k]", says=("'h'", "constant")),
    "counter-in-constant": _body("counter-in-constant", "param h = §k + 1", GOOD_UPDATE, says=("`k`",)),
    "gradient-in-param": _body("vector-in-param", "param h = 2 * §grad f(1)", GOOD_UPDATE, says=("scalar",)),
    "state-in-param": _body("vector-in-param", "param h = §x[k]", GOOD_UPDATE, says=("scalar", "'x'")),
    "state-name-in-param": _body("vector-in-param", "param h = 1 + §x", GOOD_UPDATE, says=("scalar", "'x'")),
    "unknown-function": _body("unknown-function", "param h = §foo(1)", GOOD_UPDATE, says=("'foo'",)),
    "wrong-arity-sqrt": _body("wrong-arity", "param h = §sqrt(1, 2)", GOOD_UPDATE, says=("sqrt", "1", "2")),
    "wrong-arity-min": _body("wrong-arity", "param h = §min(1)", GOOD_UPDATE, says=("min", "2")),
    "own-definition": _body("undefined-name", "param h = §h + 1", GOOD_UPDATE, says=("'h'",)),
    "later-param": _body("undefined-name", "param a = §b", "param b = 1", GOOD_UPDATE, says=("'b'",)),
    "unknown-schedule": _body("undefined-name", "param h = §mu[k]", GOOD_UPDATE, says=("'mu'",)),
    "fixed-uses-learnable": _body(
        "fixed-uses-learnable", "param a = 1 learnable", "param b = 2 * §a", GOOD_UPDATE, says=("'b'", "'a'")
    ),
    # Updates -----------------------------------------------------------------------------------------------------
    "unknown-vector": _body("undefined-name", "x[k+1] = x[k] - §y[k]", message="unknown name 'y'"),
    "schedule-without-index": _body("missing-index", "param mu[k] = 1", "x[k+1] = §mu * x[k]", says=("'mu'",)),
    "vector-without-index": _body("vector-without-index", "x[k+1] = §x + x[k]", says=("'x'", "index")),
    "target-lag": _body("bad-target-index", "x[§k-1] = x[k]", says=("x[k+1]", "x[k]")),
    "target-ahead": _body("bad-target-index", "x[§k+2] = x[k]", says=("x[k+1]",)),
    "state-and-auxiliary": _body("state-and-auxiliary", GOOD_UPDATE, "§x[k] = 2 * x[k]", says=("'x'",)),
    "duplicate-update": _body("duplicate-update", GOOD_UPDATE, "§x[k+1] = 2 * x[k]", says=("twice",)),
    "duplicate-definition": _body(
        "duplicate-update", "y[k] = x[k]", "§y[k] = 2 * x[k]", "x[k+1] = y[k]", says=("twice",)
    ),
    "scalar-update": _body("scalar-update", "param h = 1", "x[k+1] = §h + 1", says=("scalar",)),
    # dsl.md: "a vector inside a scalar function ... an error that says so".
    "vector-in-function": _body("vector-in-function", "x[k+1] = x[k] * sqrt(§x[k])", says=("sqrt", "vector")),
    "scalar-gradient-point": _body("scalar-gradient-point", "x[k+1] = x[k] - grad f(§1)", says=("grad f", "scalar")),
    "scalar-prox-point": _body("scalar-gradient-point", "x[k+1] = prox g(§2, 1)", says=("prox g", "scalar")),
    "vector-prox-step": _body("vector-prox-step", "x[k+1] = prox g(x[k], §x[k-1])", says=("step", "scalar")),
    "scalar-plus-vector": _body("scalar-plus-vector", "x[k+1] = §x[k] + 1", says=("add", "scalar", "vector")),
    "scalar-minus-vector": _body("scalar-plus-vector", "x[k+1] = §1 - x[k]", says=("subtract", "scalar", "vector")),
    # dsl.md: "A product of two vectors ... a vector divided by a vector: each is an error that says so."
    "vector-product": _body("vector-product", "x[k+1] = §x[k] * grad f(x[k])", says=("product", "two vectors")),
    "divide-by-vector": _body("divide-by-vector", "x[k+1] = x[k] / §x[k-1]", says=("divide", "vector")),
    "vector-power": _body("vector-power", "x[k+1] = §x[k] ^ 2", says=("vector", "power")),
    "vector-exponent": _body("vector-power", "x[k+1] = x[k] + §2 ** x[k]", says=("vector", "power")),
    # dsl.md, Order of evaluation: each of these is an error.
    "index-beyond-next": _body("index-beyond-next", "x[k+1] = x[§k+2]", says=("x[k+2]",)),
    "auxiliary-lag": _body(
        "auxiliary-lag", "y[k] = x[k]", "x[k+1] = y[k] + §y[k-1]", says=("auxiliary", "'y'", "y[k-1]")
    ),
    "auxiliary-ahead": _body("auxiliary-lag", "y[k] = x[k]", "x[k+1] = §y[k+1]", says=("auxiliary", "y[k+1]")),
    "used-before-definition": _body("used-before-definition", "x[k+1] = §y[k]", "y[k] = x[k]", says=("y[k]", "before")),
    "used-before-update": _body(
        "used-before-update", "x[k+1] = §z[k+1]", "z[k+1] = x[k]", "output x", says=("z[k+1]", "before")
    ),
    "self-reference": _body(
        "self-reference", "x[k+1] = x[k] - 0.5 * §x[k+1]", says=("x[k+1]", "itself", "grad", "prox")
    ),
}


def _error(case: Case, filename: str = "case.alg") -> Alg2NetError:
    with pytest.raises(Alg2NetError) as info:
        alg2net.compile_source(case.source, filename=filename)
    return info.value


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_error_code_and_location(case: Case):
    error = _error(case)
    assert (error.code, (error.line, error.column)) == (case.code, case.position)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_error_says_what_and_how_to_fix(case: Case):
    error = _error(case)
    if case.message is not None:
        assert error.message == case.message
    for word in case.says:
        assert word.lower() in error.message.lower(), f"{word!r} not in {error.message!r}"
    assert error.diagnostic.hint.strip(), "every error says how to fix it"
    assert error.diagnostic.severity == "error"


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_error_renders_location_line_and_caret(case: Case):
    error = _error(case, filename="dir/case.alg")
    line, column = case.position
    rendered = str(error).split("\n")
    assert rendered[0] == f"dir/case.alg:{line}:{column}: error: {error.message}; {error.diagnostic.hint}"
    assert "Traceback" not in str(error)
    source_line = case.source.split("\n")[line - 1]
    if not source_line:  # an empty file: nothing to show under the location
        assert rendered == rendered[:1]
        return
    assert rendered[1:] == ["    " + source_line, "    " + " " * (column - 1) + "^"]
    marked = case.text.split("\n")[line - 1]
    pointed = marked[marked.index(MARK) + 1 : marked.index(MARK) + 2]
    assert rendered[1][3 + column : 4 + column] == pointed


def test_spec_example_renders_word_for_word():
    """dsl.md shows this error; the header's column is the caret's (the spec's caret is under `mu`)."""
    error = _error(CASES["spec-example"], filename="nesterov.alg")
    assert str(error) == (
        "nesterov.alg:7:17: error: unknown name 'mu'; declare it with `param mu = ...`\n"
        "    x[k+1] = y[k] + mu * x[k]\n"
        "                    ^"
    )


def test_every_compiler_error_code_has_a_case():
    """Every code the compiler can raise (`fail("code", ...)` in its source, and the labels of SYNTAX_ERRORS) is
    triggered by at least one case above, so a new code needs a new case."""
    pattern = re.compile(r'\bfail\(\s*"([a-z-]+)"')
    raised = set()
    for module in sorted((ROOT / "alg2net").rglob("*.py")):
        raised |= set(pattern.findall(module.read_text(encoding="utf-8")))
    raised |= {code for code, _message, _hint in SYNTAX_ERRORS}
    assert len(raised) > 40
    covered = {case.code for case in CASES.values()} | {"bad-option"}  # test_bad_options_raise_alg2net_error
    covered |= {"memory-mode", "not-invertible"}  # refusals of --memory, by code, in tests/test_memory.py
    covered |= {"constrain-coupled", "constrain-varying", "constrain-initial"}  # --constrain: tests/test_constrain.py
    covered |= {"bad-checkpoint", "checkpoint-mismatch", "non-finite-weight"}  # --weights: tests/test_weights.py
    covered |= {"missing-dependency"}  # --weights without torch, --plot without matplotlib: test_weights, test_plot
    assert raised - covered == set()


@pytest.mark.parametrize(
    "label, example",
    [(label, example) for label, examples in SYNTAX_ERRORS.items() for example in examples],
    ids=lambda value: value[0] if isinstance(value, tuple) else repr(value),
)
def test_each_syntax_error_example_gets_its_label(label: tuple[str, str, str], example: str):
    code, message, hint = label
    with pytest.raises(Alg2NetError) as info:
        alg2net.compile_source(example)
    assert (info.value.code, info.value.message, info.value.diagnostic.hint) == (code, message, hint)


@pytest.mark.parametrize(
    "label, example",
    [(label, example) for label, examples in SYNTAX_ERRORS.items() for example in examples],
    ids=lambda value: value[0] if isinstance(value, tuple) else repr(value),
)
def test_syntax_error_labels_do_not_depend_on_the_statements_before(label: tuple[str, str, str], example: str):
    """The same mistake gets the same label on the first line and after other statements and blank lines."""
    with pytest.raises(Alg2NetError) as info:
        alg2net.compile_source("algorithm a\nparam c = 1\n\n" + example)
    assert info.value.code == label[0]


SPEC_KEYWORDS = ("algorithm", "param", "learnable", "output", "init", "input", "grad", "prox", "k")


def test_keywords_are_those_of_the_spec():
    assert set(KEYWORDS) == set(SPEC_KEYWORDS)


@pytest.mark.parametrize("keyword", SPEC_KEYWORDS)
@pytest.mark.parametrize(
    "template",
    [
        "algorithm §{}\n" + GOOD_UPDATE,
        HEADER + "param §{} = 1\n" + GOOD_UPDATE,
        HEADER + "§{}[k+1] = x[k]\n",
        HEADER + "x[k+1] = x[k] - grad §{}(x[k])\n",
        HEADER + GOOD_UPDATE + "output §{}\n",
        HEADER + GOOD_UPDATE + "init §{} = 0\n",
    ],
)
def test_a_keyword_is_not_a_name(keyword: str, template: str):
    """dsl.md: the keywords are not usable as names, wherever a name is expected."""
    case = Case("keyword-as-name", template.format(keyword))
    error = _error(case)
    assert (error.code, (error.line, error.column)) == (case.code, case.position)
    assert f"'{keyword}'" in error.message
    assert error.diagnostic.hint


def test_error_in_a_continued_line_points_into_that_line():
    case = _body("undefined-name", "x[k+1] = (x[k]", "          - grad f(§w[k]))")
    assert (_error(case).line, _error(case).column) == case.position == (3, 20)


def test_columns_count_characters_with_tabs_and_crlf():
    """A tab is one column; the rendered line shows it as one space so the caret stays under the character."""
    error = _error(Case("undefined-name", "algorithm a\r\nx[k+1] =\t§y[k]\r\n"))
    assert (error.line, error.column) == (2, 10)
    assert str(error).split("\n")[1:] == ["    x[k+1] = y[k]", "             ^"]


@pytest.mark.parametrize("stem", sorted(p.stem for p in (ROOT / "examples").glob("*.alg")))
def test_a_broken_example_names_its_file(stem: str, tmp_path: Path):
    """`load` reports the path it was given; an unknown name added to any example is found on its line."""
    text = (ROOT / "examples" / f"{stem}.alg").read_text(encoding="utf-8")
    broken = text.rstrip("\n") + "\nextra[k] = 2 * unknown_thing[k]\n"
    path = tmp_path / f"{stem}.alg"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(Alg2NetError) as info:
        alg2net.load(path)
    line = broken.count("\n")
    assert (info.value.code, info.value.line, info.value.column) == ("undefined-name", line, 16)
    assert str(info.value).startswith(f"{path}:{line}:16: error: unknown name 'unknown_thing'")


@pytest.mark.parametrize(
    "options, word",
    [
        ({"block": "rnn"}, "rnn"),
        ({"activation": "swish"}, "swish"),
        ({"hidden": 0}, "hidden"),
        ({"block": "conv", "norm": "layer"}, "layer"),
        ({"norm": "group"}, "--norm"),  # the mlp block has no normalization to choose
    ],
)
def test_bad_options_raise_alg2net_error(options: dict, word: str):
    """module.md: errors of the Python API raise Alg2NetError, options included."""
    with pytest.raises(Alg2NetError) as info:
        alg2net.compile_source(HEADER + GOOD_UPDATE, **options)
    assert info.value.code == "bad-option"
    assert word in info.value.message
    assert "Traceback" not in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        # dsl.md: prox is an implicit step, and x[k+1] inside grad on x's own right-hand side is one too.
        "x[k+1] = prox g(x[k], 0.5)",
        "x[k+1] = x[k] - grad f(x[k+1])",
        "x[k+1] = x[k] - 0.5 * (grad f(x[k]) + grad f(x[k+1]))",
        "x[k+1] = prox g(x[k] - grad f(x[k]), 1)",
        "x[k+1] = x[k] - grad f(0.5 * x[k] + 0.5 * x[k+1])",
        # v[k+1] of another state once its update is above (ADMM).
        "z[k+1] = prox g(x[k], 1)\nx[k+1] = x[k] + z[k+1]\noutput x",
    ],
)
def test_implicit_steps_are_not_errors(text: str):
    source = alg2net.compile_source(HEADER + text + "\n")
    compile(source, "<generated>", "exec")


@pytest.mark.parametrize("typo, keyword", [("gard", "grad"), ("porx", "prox"), ("parm", "param"), ("ouptut", "output")])
def test_a_misspelled_keyword_gets_a_suggestion(typo, keyword):
    text = {"gard": "x[k+1] = x[k] - gard f(x[k])", "porx": "x[k+1] = porx g(x[k], 1)"}.get(typo, f"{typo} h = 1")
    with pytest.raises(Alg2NetError) as caught:
        alg2net.check_source(f"algorithm a\n{text}\n")
    assert caught.value.code == "misspelled-keyword"
    assert caught.value.diagnostic.hint == f"did you mean `{keyword}`?"


def test_a_sum_of_thousands_of_terms_compiles_and_checks():
    terms = " + ".join(f"{i % 7}*x[k-{i % 3}]" for i in range(4000))
    text = f"algorithm a\nx[k+1] = x[k] - grad f(x[k]) + 1e-6*({terms})\n"
    assert alg2net.check_source(text)["algorithm"] == "a"
    assert "class A(" in alg2net.compile_source(text)
