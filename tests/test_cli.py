"""`alg2net compile`, `--version` and `--help` (module.md, "alg2net compile" and "Other commands").

Most tests call `alg2net.cli.main(argv)` in process; a few run `python -m alg2net` in a subprocess to check what a
user sees: exit status, stdout, stderr, and no traceback.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import alg2net
from alg2net.cli import main

ROOT = Path(__file__).resolve().parent.parent
HEAVY_BALL = ROOT / "examples" / "heavy_ball.alg"
BROKEN = "algorithm broken\n\nx[k+1] = x[k] - h * grad f(x[k])\n"  # h is not declared: line 3, column 17
BROKEN_AT = (3, 17)


def run_main(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of `alg2net ARGV`, in process (argparse's exits included)."""
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    out, err = capsys.readouterr()
    return status, out, err


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`python -m alg2net ARGS` as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "alg2net", *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    path = tmp_path / "broken.alg"
    path.write_text(BROKEN, encoding="utf-8")
    return path


def _assert_located_error(err: str, filename: str) -> None:
    """stderr holds `FILE:LINE:COL: error: ...`, the source line and a caret under the column; no traceback."""
    line, column = BROKEN_AT
    lines = err.rstrip("\n").split("\n")
    assert lines[0].startswith(f"{filename}:{line}:{column}: error: unknown name 'h'")
    assert lines[1] == "    " + BROKEN.split("\n")[line - 1]
    assert lines[2] == "    " + " " * (column - 1) + "^"
    assert "Traceback" not in err


# compile -------------------------------------------------------------------------------------------------------------


def test_compile_to_stdout_is_what_the_api_returns(capsys):
    status, out, err = run_main(["compile", str(HEAVY_BALL)], capsys)
    assert (status, err) == (0, "")
    assert out == alg2net.compile_source(HEAVY_BALL.read_text(encoding="utf-8"))
    compile(out, "net.py", "exec")
    assert "class HeavyBall(" in out


def test_compile_to_a_file(tmp_path: Path, capsys):
    target = tmp_path / "net.py"
    status, out, err = run_main(["compile", str(HEAVY_BALL), "-o", str(target)], capsys)
    assert (status, out, err) == (0, "", "")
    assert target.read_text(encoding="utf-8") == alg2net.compile_source(HEAVY_BALL.read_text(encoding="utf-8"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.py"]  # no temporary left beside it


def test_output_file_gets_the_mode_of_a_new_file(tmp_path: Path, capsys):
    """The atomic write goes through a private temporary file; the result must not stay private."""
    target = tmp_path / "net.py"
    umask = os.umask(0o022)
    os.umask(umask)
    assert run_main(["compile", str(HEAVY_BALL), "--output", str(target)], capsys)[0] == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_overwriting_keeps_the_mode_of_the_existing_file(tmp_path: Path, capsys):
    target = tmp_path / "net.py"
    target.write_text("old\n", encoding="utf-8")
    target.chmod(0o640)
    assert run_main(["compile", str(HEAVY_BALL), "-o", str(target)], capsys)[0] == 0
    assert target.read_text(encoding="utf-8").startswith('"""')
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


@pytest.mark.parametrize(
    "options, api",
    [
        (["--block", "conv"], {"block": "conv"}),
        (["--block", "attention", "--activation", "gelu"], {"block": "attention", "activation": "gelu"}),
        (["--activation", "tanh", "--hidden", "7"], {"activation": "tanh", "hidden": 7}),
        (["--tied"], {"tied": True}),
        (
            ["--block=mlp", "--activation=sigmoid", "--hidden=3", "--tied"],
            {"activation": "sigmoid", "hidden": 3, "tied": True},
        ),
    ],
)
def test_options_reach_the_compiler(options: list[str], api: dict, capsys):
    status, out, err = run_main(["compile", str(HEAVY_BALL), *options], capsys)
    assert (status, err) == (0, "")
    assert out == alg2net.compile_source(HEAVY_BALL.read_text(encoding="utf-8"), **api)
    assert out != alg2net.compile_source(HEAVY_BALL.read_text(encoding="utf-8"))


def test_same_input_gives_byte_identical_output(tmp_path: Path):
    first, second = tmp_path / "a.py", tmp_path / "b.py"
    assert run_cli("compile", str(HEAVY_BALL), "-o", str(first)).returncode == 0
    assert run_cli("compile", str(HEAVY_BALL), "-o", str(second)).returncode == 0
    assert first.read_bytes() == second.read_bytes()


def test_every_example_compiles_through_the_cli(tmp_path: Path, capsys):
    for example in sorted((ROOT / "examples").glob("*.alg")):
        target = tmp_path / f"{example.stem}.py"
        assert run_main(["compile", str(example), "-o", str(target)], capsys)[0] == 0, example.name
        compile(target.read_text(encoding="utf-8"), str(target), "exec")


# errors --------------------------------------------------------------------------------------------------------------


def test_input_error_exits_2_with_a_located_message(broken: Path, capsys):
    status, out, err = run_main(["compile", str(broken)], capsys)
    assert (status, out) == (2, "")
    _assert_located_error(err, str(broken))


def test_input_error_names_the_file_as_given(broken: Path):
    result = run_cli("compile", "broken.alg", cwd=broken.parent)
    assert (result.returncode, result.stdout) == (2, "")
    _assert_located_error(result.stderr, "broken.alg")


def test_input_error_writes_no_file(broken: Path, capsys):
    target = broken.parent / "net.py"
    status, out, err = run_main(["compile", str(broken), "-o", str(target)], capsys)
    assert (status, out) == (2, "")
    _assert_located_error(err, str(broken))
    assert sorted(p.name for p in broken.parent.iterdir()) == ["broken.alg"]


def test_input_error_leaves_an_existing_output_byte_identical(broken: Path):
    target = broken.parent / "net.py"
    before = b"# hand-written, do not lose\r\nx = 1\n\xe2\x82\xac\n"
    target.write_bytes(before)
    result = run_cli("compile", str(broken), "-o", str(target))
    assert result.returncode == 2
    _assert_located_error(result.stderr, str(broken))
    assert target.read_bytes() == before
    assert sorted(p.name for p in broken.parent.iterdir()) == ["broken.alg", "net.py"]


@pytest.mark.parametrize(
    "text, code_word",
    [
        ("algorithm a\nx[k+1] = x[k] ~ 1\n", "unexpected character '~'"),  # lexer
        ("algorithm a\nx[k+1] = (x[k]\n", "'(' is never closed"),  # parser
        ("algorithm a\nx[k+1] = x[k] * x[k-1]\n", "product of two vectors"),  # resolver
        ("", "algorithm"),  # empty file
    ],
)
def test_every_stage_reports_through_the_cli(tmp_path: Path, text: str, code_word: str, capsys):
    path = tmp_path / "bad.alg"
    path.write_text(text, encoding="utf-8")
    status, out, err = run_main(["compile", str(path)], capsys)
    assert (status, out) == (2, "")
    assert err.startswith(f"{path}:") and ": error: " in err.split("\n")[0]
    assert code_word in err
    assert "Traceback" not in err


def test_missing_file(tmp_path: Path, capsys):
    missing = tmp_path / "nowhere.alg"
    status, out, err = run_main(["compile", str(missing)], capsys)
    assert (status, out) == (2, "")
    assert err.startswith(f"{missing}: error: ")
    assert "Traceback" not in err


@pytest.mark.parametrize("kind", ["directory", "not-utf8"])
def test_unreadable_file(tmp_path: Path, kind: str, capsys):
    path = tmp_path / "input.alg"
    if kind == "directory":
        path.mkdir()
    else:
        path.write_bytes(b"algorithm a\nx[k+1] = x[k] \xff\xfe\n")
    target = tmp_path / "net.py"
    status, out, err = run_main(["compile", str(path), "-o", str(target)], capsys)
    assert (status, out) == (2, "")
    expected = f"{path}: error: cannot read" if kind == "directory" else f"{path}:2:15: error: the file is not UTF-8"
    assert err.startswith(expected)
    assert not target.exists()


def test_unwritable_output_exits_2_and_leaves_nothing(tmp_path: Path, capsys):
    """Writing onto a directory fails; the message names it, and no temporary file is left behind."""
    (tmp_path / "out").mkdir()
    status, out, err = run_main(["compile", str(HEAVY_BALL), "-o", str(tmp_path / "out")], capsys)
    assert (status, out) == (2, "")
    assert err.startswith(f"{tmp_path / 'out'}: error: cannot write")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert list((tmp_path / "out").iterdir()) == []


def test_output_into_a_missing_directory(tmp_path: Path, capsys):
    status, out, err = run_main(["compile", str(HEAVY_BALL), "-o", str(tmp_path / "no" / "net.py")], capsys)
    assert (status, out) == (2, "")
    assert "error: cannot write" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "argv",
    [
        ["compile"],  # no FILE
        ["compile", "FILE.alg", "--block", "rnn"],
        ["compile", "FILE.alg", "--activation", "swish"],
        ["compile", "FILE.alg", "--hidden", "0"],
        ["compile", "FILE.alg", "--hidden", "-3"],
        ["compile", "FILE.alg", "--hidden", "wide"],
        ["compile", "FILE.alg", "--hidden"],
        ["compile", "FILE.alg", "--no-such-option"],
        ["compile", "FILE.alg", "-o"],
        ["compile", "FILE.alg", "extra.alg"],
        ["translate", "FILE.alg"],  # no such command
        ["--no-such-option"],
    ],
)
def test_bad_usage_exits_2(argv: list[str], tmp_path: Path, capsys):
    argv = [str(HEAVY_BALL) if arg == "FILE.alg" else arg for arg in argv]
    status, out, err = run_main(argv, capsys)
    assert (status, out) == (2, "")
    assert "usage: alg2net" in err and "error:" in err
    assert "Traceback" not in err


def test_bad_option_value_is_named(capsys):
    status, _out, err = run_main(["compile", str(HEAVY_BALL), "--hidden", "wide"], capsys)
    assert status == 2 and "'wide'" in err
    status, _out, err = run_main(["compile", str(HEAVY_BALL), "--block", "rnn"], capsys)
    assert status == 2 and "'rnn'" in err and "mlp" in err


def test_no_command_shows_help_and_exits_2(capsys):
    status, out, err = run_main([], capsys)
    assert status == 2
    assert "compile" in out + err


# --version and --help ------------------------------------------------------------------------------------------------


def test_version(capsys):
    status, out, err = run_main(["--version"], capsys)
    assert (status, out.strip(), err) == (0, f"alg2net {alg2net.__version__}", "")


def test_help(capsys):
    status, out, err = run_main(["--help"], capsys)
    assert (status, err) == (0, "")
    assert out.startswith("usage: alg2net") and "compile" in out and "--version" in out


def test_compile_help(capsys):
    status, out, err = run_main(["compile", "--help"], capsys)
    assert (status, err) == (0, "")
    assert out.startswith("usage: alg2net compile")
    for option in ("FILE.alg", "-o", "--block", "--activation", "--hidden", "--tied", "mlp", "conv", "attention"):
        assert option in out, option


# python -m alg2net ---------------------------------------------------------------------------------------------------


def test_python_dash_m_compiles_and_reports_version(tmp_path: Path):
    version = run_cli("--version")
    assert (version.returncode, version.stdout.strip(), version.stderr) == (0, f"alg2net {alg2net.__version__}", "")
    compiled = run_cli("compile", str(HEAVY_BALL))
    assert (compiled.returncode, compiled.stderr) == (0, "")
    assert compiled.stdout == alg2net.compile_source(HEAVY_BALL.read_text(encoding="utf-8"))
    usage = run_cli("compile", str(HEAVY_BALL), "--block", "rnn")
    assert usage.returncode == 2 and "Traceback" not in usage.stderr and usage.stdout == ""
    helped = run_cli("compile", "--help")
    assert helped.returncode == 0 and "--block" in helped.stdout


# input and output edges ----------------------------------------------------------------------------------------------


def test_a_file_that_is_not_utf8_is_a_located_error(tmp_path: Path, capsys):
    path = tmp_path / "latin.alg"
    path.write_bytes("algorithm a\n# café\nx[k+1] = x[k] - grad f(x[k])\n".encode("latin-1"))
    status, out, err = run_main(["check", str(path)], capsys)
    assert (status, out) == (2, "")
    assert err.startswith(f"{path}:2:6: error: the file is not UTF-8 text: byte 0xe9")
    assert err.rstrip().endswith("^") and "Traceback" not in err


def test_a_byte_order_mark_is_accepted(tmp_path: Path, capsys):
    path = tmp_path / "bom.alg"
    path.write_text(HEAVY_BALL.read_text(encoding="utf-8"), encoding="utf-8-sig")
    assert run_main(["show", str(path)], capsys)[:2] == (0, run_main(["show", str(HEAVY_BALL)], capsys)[1])


def _with_input(text: str, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "alg2net", *args]
    return subprocess.run(command, input=text, capture_output=True, text=True, timeout=120, check=False)


def test_dash_reads_standard_input():
    source = HEAVY_BALL.read_text(encoding="utf-8")
    for command in ("check", "show", "compile"):
        run = _with_input(source, command, "-")
        assert run.returncode == 0, run.stderr
        assert run.stdout == run_cli(command, str(HEAVY_BALL)).stdout.replace(str(HEAVY_BALL), "<stdin>")
    bad = _with_input(BROKEN, "check", "-")
    assert bad.returncode == 2 and bad.stderr.startswith("<stdin>:3:17: error: unknown name 'h'")


def test_a_closed_pipe_is_no_error():
    command = f"{sys.executable} -m alg2net compile {HEAVY_BALL} | head -1"
    run = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=120, check=False)
    assert run.stdout.startswith('"""HeavyBall') and run.stderr == ""


def test_an_internal_error_exits_3_with_a_one_line_request_for_a_report(monkeypatch, capsys):
    def broken_stage(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("alg2net.pipeline.derive", broken_stage)
    status, out, err = run_main(["check", str(HEAVY_BALL)], capsys)
    assert (status, out) == (3, "")
    first, *rest = err.splitlines()
    assert first.startswith("alg2net: internal error: this is a bug in alg2net; please report it")
    assert rest[0] == "Traceback (most recent call last):" and rest[-1] == "RuntimeError: a bug"


def test_warnings_are_printed_located_and_keep_the_exit_status(tmp_path: Path, capsys):
    path = tmp_path / "dead.alg"
    path.write_text("algorithm a\nparam c = 2\ny[k] = grad g(x[k])\nx[k+1] = x[k] - grad f(x[k])\n", encoding="utf-8")
    for command in ("check", "show", "compile"):
        status, out, err = run_main([command, str(path)], capsys)
        assert status == 0 and out
        assert err.startswith(f"{path}:2:1: warning: the param 'c' is never used")
        assert f"{path}:3:1: warning: the auxiliary 'y' never reaches the output 'x'" in err
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        alg2net.compile_source(path.read_text(encoding="utf-8"))
    assert [w.category for w in caught] == [alg2net.Alg2NetWarning] * 2
    assert [w.message.diagnostic.span.line for w in caught] == [2, 3]


def test_dash_o_writes_standard_output(capsys):
    status, out, _ = run_main(["compile", str(HEAVY_BALL), "-o", "-"], capsys)
    assert status == 0 and out == alg2net.compile_source(HEAVY_BALL.read_text(encoding="utf-8"))
