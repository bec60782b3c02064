"""The command line: parses arguments, calls the API, prints, maps outcomes to exit codes. No compiler logic."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import traceback
from pathlib import Path

from alg2net import __version__, pipeline
from alg2net.codegen.options import ACTIVATIONS, BLOCKS, MEMORY_MODES, NORMS, Options, make_options
from alg2net.errors import Alg2NetError, render
from alg2net.syntax import decode

EXIT_OK, EXIT_FAILED_CHECK, EXIT_BAD_INPUT, EXIT_INTERNAL_ERROR = 0, 1, 2, 3
STDIN = STDOUT = "-"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return args.run(args)
    except Alg2NetError as error:
        print(error, file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # `alg2net compile x.alg | head -1`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return EXIT_OK
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        return 130
    except Exception:  # noqa: BLE001 - a bug: say so in one line, then the traceback for the report
        print(
            "alg2net: internal error: this is a bug in alg2net; please report it with the input file and the command"
            " line, and the traceback below",
            file=sys.stderr,
        )
        traceback.print_exc()
        return EXIT_INTERNAL_ERROR


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alg2net",
        description="Compile optimization algorithms written as update rules into PyTorch networks.",
    )
    parser.add_argument("--version", action="version", version=f"alg2net {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_compile(commands)
    _add_check(commands)
    _add_show(commands)
    return parser


def _add_compile(commands) -> None:
    compile_ = commands.add_parser(
        "compile",
        help="write the PyTorch module of an algorithm",
        description="Write the PyTorch module of FILE.alg: every `grad F` becomes a learnable block.",
    )
    compile_.add_argument("file", metavar="FILE.alg", help="the algorithm (- for standard input)")
    compile_.add_argument(
        "-o", "--output", metavar="OUT.py", help="where to write the module (default, or -: standard output)"
    )
    compile_.add_argument("--block", choices=list(BLOCKS), default="mlp", help="the learnable block (default: mlp)")
    compile_.add_argument(
        "--activation", choices=list(ACTIVATIONS), default="relu", help="activation in the blocks (default: relu)"
    )
    compile_.add_argument(
        "--hidden",
        type=_positive_int,
        metavar="N",
        help="hidden size of the MLP parts (default: width for mlp and conv, 4 x width for attention)",
    )
    compile_.add_argument(
        "--norm",
        choices=list(NORMS),
        help="normalization in the conv block (default: batch; group suits schemes that call a block several times)",
    )
    compile_.add_argument("--tied", action="store_true", help="one block per function shared by all layers")
    compile_.add_argument(
        "--memory",
        choices=list(MEMORY_MODES),
        default="autograd",
        help="how the backward pass gets its activations: stored (autograd, the default), recomputed per segment "
        "(checkpoint) or rebuilt with the algorithm's inverse (reversible)",
    )
    compile_.add_argument(
        "--strict", action="store_true", help="refuse (exit 1) unless `alg2net check` says guaranteed"
    )
    compile_.add_argument(
        "--constrain",
        action="store_true",
        help="hold every learnable param strictly inside the region `alg2net check` derives, through a raw "
        "parameter and a smooth map (exit 2 where no such map exists)",
    )
    compile_.set_defaults(run=_compile)


def _add_check(commands) -> None:
    check = commands.add_parser(
        "check",
        help="is the network a convergent multistep discretization of a neural ODE?",
        description=(
            "Reduce FILE.alg to the recurrence of its output and run the linear test: rho and its roots, "
            "consistency, zero-stability, the limit ODE, the order, and a verdict. Exit 0 when guaranteed, "
            "1 when not, 2 on bad input."
        ),
    )
    check.add_argument("file", metavar="FILE.alg", help="the algorithm (- for standard input)")
    check.add_argument("--json", action="store_true", help="print one JSON object instead of the report")
    check.add_argument(
        "--depth",
        type=_positive_int,
        default=100,
        metavar="N",
        help="layers the report lists when coefficients vary with k (default: 100); the verdict covers every depth",
    )
    check.add_argument(
        "--weights",
        metavar="CHECKPOINT",
        help="judge the trained values of the learnable params in CHECKPOINT, a saved state_dict of the module "
        "compiled from FILE (needs torch): every layer frozen at its values",
    )
    check.add_argument(
        "--plot",
        metavar="ROOTS.png",
        help="also draw the roots of rho on the unit circle and each learnable param's region (needs matplotlib)",
    )
    check.set_defaults(run=_check)


def _add_show(commands) -> None:
    show = commands.add_parser(
        "show",
        help="print the learnable form of an algorithm",
        description="Print the learnable form of FILE.alg: every `grad F` replaced by its block T_F.",
    )
    show.add_argument("file", metavar="FILE.alg", help="the algorithm (- for standard input)")
    show.add_argument("--latex", action="store_true", help="print LaTeX (an aligned block) for papers")
    show.add_argument(
        "--inverse",
        action="store_true",
        help="print one iteration run backwards (exit 1 with the blocking term when there is none)",
    )
    show.set_defaults(run=_show)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def _read(path: str) -> str:
    """The text of the file at `path` (standard input for `-`); a file that is not UTF-8 is a located error."""
    try:
        data = sys.stdin.buffer.read() if path == STDIN else Path(path).read_bytes()
    except OSError as error:
        print(f"{path}: error: cannot read the file: {error.strerror or error}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT) from None
    return decode(data, _display_name(path))


def _display_name(path: str) -> str:
    return "<stdin>" if path == STDIN else path


def _compile(args: argparse.Namespace) -> int:
    options = make_options(
        args.block, args.activation, args.hidden, args.tied, args.norm, args.memory, constrain=args.constrain
    )
    derived = _derive(args.file)
    if args.strict:
        facts = pipeline.check(derived)
        if facts.verdict != "guaranteed":
            reasons = "; ".join(facts.reasons)
            print(
                f"{derived.filename}: error: --strict: `alg2net check` does not guarantee this network: {reasons}",
                file=sys.stderr,
            )
            return EXIT_FAILED_CHECK
    source = pipeline.emit(derived, options)
    _print_warnings(derived, options)
    if args.output in (None, STDOUT):
        sys.stdout.write(source)
    else:
        _write_atomically(Path(args.output), source)
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    derived = _derive(args.file)
    facts = pipeline.check(derived, args.depth, weights=args.weights)
    if args.plot is not None:
        from alg2net.plot import plot

        if args.weights is None:
            plot(facts, args.plot)
        else:
            plot(pipeline.check(derived, args.depth), args.plot, trained=facts)
    _print_warnings(derived)
    if args.json:
        print(json.dumps(facts.to_json(), ensure_ascii=False, indent=2))
    else:
        from alg2net.analysis.report import render

        sys.stdout.write(render(facts, derived.filename))
    return EXIT_OK if facts.verdict == "guaranteed" else EXIT_FAILED_CHECK


def _show(args: argparse.Namespace) -> int:
    from alg2net.printing import show_text

    derived = _derive(args.file)
    _print_warnings(derived)
    if not args.inverse:
        sys.stdout.write(show_text(derived.form, latex=args.latex))
        return EXIT_OK
    from alg2net.inverse import inverse_text, invert

    inverse = invert(derived.form)
    sys.stdout.write(inverse_text(derived.form.model.name, inverse, latex=args.latex))
    return EXIT_OK if inverse.invertible else EXIT_FAILED_CHECK


def _derive(path: str) -> pipeline.Derived:
    return pipeline.derive_source(_read(path), _display_name(path))


def _print_warnings(derived: pipeline.Derived, options: Options | None = None) -> None:
    """Warnings go to stderr, located like errors; they never change the exit status."""
    for diagnostic in pipeline.warnings_of(derived, options):
        print(render(diagnostic, derived.filename, derived.text), file=sys.stderr)


def _write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file, so a failure never leaves a partial file."""
    temporary = None
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        umask = os.umask(0o022)  # mkstemp makes the file private; give it the mode a new file would have
        os.umask(umask)
        os.chmod(temporary, path.stat().st_mode & 0o777 if path.is_file() else 0o666 & ~umask)
        os.replace(temporary, path)
    except OSError as error:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        print(f"{path}: error: cannot write the file: {error.strerror or error}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT) from None
