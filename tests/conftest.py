"""Fixtures shared by the tests of generated modules. Nothing here imports torch: the generated code does, when a
test that needs it runs."""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable

import pytest

import alg2net


@functools.cache
def _class_from_source(text: str, **options) -> type:
    """Compile `.alg` text with `alg2net.compile_source`, exec the result, return the network class (the last one).

    Cached: tests build many modules from one source, and the classes are stateless.
    """
    source = alg2net.compile_source(text, **options)
    last_class = [node.name for node in ast.parse(source).body if isinstance(node, ast.ClassDef)][-1]
    namespace: dict = {"__name__": "alg2net_test_generated"}
    exec(compile(source, "<alg2net test>", "exec"), namespace)  # noqa: S102 - the compiler's own output
    return namespace[last_class]


@pytest.fixture
def load_source() -> Callable[..., type]:
    """`load_source(text, **compile_options)`: the network class of inline `.alg` text."""
    return _class_from_source
