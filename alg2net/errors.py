"""Diagnostics: what went wrong, where, and how to fix it; rendered as `FILE:LINE:COL: error: ...` with a caret."""

from __future__ import annotations

from dataclasses import dataclass

from alg2net.ir import NOWHERE, Span


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem in the input. `code` is stable (tests assert on it); `message` and `hint` are for people."""

    code: str
    message: str
    span: Span = NOWHERE
    hint: str = ""
    severity: str = "error"


class Alg2NetError(Exception):
    """Bad input. Carries the diagnostic plus the file name and source text needed to render it."""

    def __init__(self, diagnostic: Diagnostic, filename: str = "<input>", source: str = ""):
        self.diagnostic = diagnostic
        self.filename = filename
        self.source = source
        super().__init__(render(diagnostic, filename, source))

    @property
    def code(self) -> str:
        return self.diagnostic.code

    @property
    def line(self) -> int:
        return self.diagnostic.span.line

    @property
    def column(self) -> int:
        return self.diagnostic.span.column

    @property
    def message(self) -> str:
        return self.diagnostic.message

    def located(self, filename: str, source: str) -> Alg2NetError:
        """The same error, attributed to `filename` whose text is `source`."""
        return Alg2NetError(self.diagnostic, filename, source)


class Alg2NetWarning(UserWarning):
    """Something in the input the compiler left out or advises against; the Python API issues these through
    `warnings.warn` (the command line prints them), with the diagnostic under `diagnostic`."""

    def __init__(self, diagnostic: Diagnostic, filename: str = "<input>", source: str = ""):
        self.diagnostic = diagnostic
        super().__init__(render(diagnostic, filename, source))


def fail(code: str, message: str, span: Span = NOWHERE, hint: str = "") -> Alg2NetError:
    """Build the error to raise; the pipeline attaches the file name and source."""
    return Alg2NetError(Diagnostic(code, message, span, hint))


def render(diagnostic: Diagnostic, filename: str, source: str) -> str:
    """`FILE:LINE:COL: error: MESSAGE; HINT`, then the source line and a caret under the column."""
    span = diagnostic.span
    text = diagnostic.message
    if diagnostic.hint:
        text = f"{text}; {diagnostic.hint}"
    if span.line <= 0:
        return f"{filename}: {diagnostic.severity}: {text}"
    head = f"{filename}:{span.line}:{span.column}: {diagnostic.severity}: {text}"
    lines = source.splitlines()
    if span.line > len(lines):
        return head
    line = lines[span.line - 1].rstrip("\r").expandtabs(1)
    caret = " " * (span.column - 1) + "^"
    return f"{head}\n    {line}\n    {caret}"
