"""Python names for DSL names: the one sanitiser every identifier of the generated file passes through.

A DSL name is kept as written unless Python forbids it there: a keyword, a builtin, a name the generated code
itself uses, or an attribute `nn.Module` already has. Then it gains a trailing `_` (`lambda` -> `lambda_`), and a
numeric suffix if that is taken too. Allocation order is fixed, so the same input always gets the same names.
"""

from __future__ import annotations

import builtins
import keyword
import unicodedata

from alg2net.codegen.options import BLOCKS

# Attributes of torch.nn.Module (tests/test_names.py checks this against the installed torch) and of the generated
# class itself: a param stored under one of these names is renamed.
MODULE_ATTRIBUTES = frozenset(
    [
        "T_destination",
        "_apply",
        "_backward_hooks",
        "_backward_pre_hooks",
        "_buffers",
        "_call_impl",
        "_compiled_call_impl",
        "_forward_hooks",
        "_forward_hooks_always_called",
        "_forward_hooks_with_kwargs",
        "_forward_pre_hooks",
        "_forward_pre_hooks_with_kwargs",
        "_get_backward_hooks",
        "_get_backward_pre_hooks",
        "_get_name",
        "_is_full_backward_hook",
        "_load_from_state_dict",
        "_load_state_dict_post_hooks",
        "_load_state_dict_pre_hooks",
        "_maybe_warn_non_full_backward_hook",
        "_modules",
        "_named_members",
        "_non_persistent_buffers_set",
        "_parameters",
        "_register_load_state_dict_pre_hook",
        "_register_state_dict_hook",
        "_replicate_for_data_parallel",
        "_save_to_state_dict",
        "_slow_forward",
        "_state_dict_hooks",
        "_state_dict_pre_hooks",
        "_version",
        "_wrapped_call_impl",
        "add_module",
        "apply",
        "bfloat16",
        "buffers",
        "call_super_init",
        "children",
        "compile",
        "cpu",
        "cuda",
        "double",
        "dump_patches",
        "eval",
        "extra_repr",
        "float",
        "forward",
        "get_buffer",
        "get_extra_state",
        "get_parameter",
        "get_submodule",
        "half",
        "ipu",
        "load_state_dict",
        "modules",
        "mtia",
        "named_buffers",
        "named_children",
        "named_modules",
        "named_parameters",
        "parameters",
        "register_backward_hook",
        "register_buffer",
        "register_forward_hook",
        "register_forward_pre_hook",
        "register_full_backward_hook",
        "register_full_backward_pre_hook",
        "register_load_state_dict_post_hook",
        "register_load_state_dict_pre_hook",
        "register_module",
        "register_parameter",
        "register_state_dict_post_hook",
        "register_state_dict_pre_hook",
        "requires_grad_",
        "set_extra_state",
        "set_submodule",
        "share_memory",
        "state_dict",
        "to",
        "to_empty",
        "train",
        "training",
        "type",
        "xpu",
        "zero_grad",
        "width",
        "depth",
        "tied",
        "blocks",
        "_block",
        "solver_max_iter",
        "solver_tol",
        "_equilibrium",
        "_check_converged",
        "_prox",
        "memory",
        "anchor_every",
        "reconstruction_tolerance",
        "reconstruction_error",
        "_step",
        "_segment",
        "_inverse_step",
        "_checkpoint_contexts",
        "_statistics_kept",
        "_layer_parameters",
    ]
)

# Keys an nn.ModuleDict cannot take because the dict has a method of that name.
MODULE_DICT_ATTRIBUTES = MODULE_ATTRIBUTES | {"clear", "items", "keys", "pop", "update", "values"}

PYTHON_RESERVED = frozenset(keyword.kwlist) | frozenset(dir(builtins))

# Names of the generated file that its methods read: modules, helpers, classes and the layer counter `k`. A DSL name
# that becomes a local there (a param in `__init__`, a state in `forward`) is renamed rather than hide one.
GENERATED = frozenset(
    {"self", "torch", "nn", "math", "functools", "warnings", "numbers", "k", "Callable", "Sequence"}
    | {"anderson", "per_layer", "num_groups"}
    | {"interval_raw", "above_raw", "below_raw", "reflection_raws"}  # the helpers of --constrain
    | {"contextlib", "checkpoint", "Reversible", "random_kept", "seed_layer", "layer_backward", "RunningStatisticsKept"}
    | {"layer_inverse", "replay", "relative_distance", "backward_segments"}
    | {"states", "length", "start", "stop", "contexts"}  # the locals of the memory modes' forward (memory.md)
    | {kind.class_name for kind in BLOCKS.values()}
)


class Namespace:
    """Hands out distinct Python identifiers in one scope."""

    def __init__(self, reserved: frozenset[str] | set[str]):
        self.reserved = frozenset(reserved)
        self.taken: set[str] = set()

    def claim(self, preferred: str) -> str:
        """`preferred`, or `preferred_` if Python or the scope reserves it, or `preferred_2`, `_3`... if taken. A name
        with two leading underscores keeps one (`__init__` -> `_init__`): Python reserves `__x__` names and mangles
        `__x` inside a class body."""
        name = "_" + preferred.lstrip("_") if preferred.startswith("__") else preferred
        if name in self.reserved or keyword.iskeyword(name):
            name += "_"
        candidate, n = name, 2
        while candidate in self.taken or candidate in self.reserved:
            candidate = f"{name}_{n}" if not name.endswith("_") else f"{name}{n}"
            n += 1
        self.taken.add(candidate)
        return candidate


def docstring_text(text: str) -> str:
    """Text that can sit inside a triple-quoted docstring unchanged in meaning: backslashes and quotes escaped, and
    control characters (NUL, ESC, a lone carriage return; any but the newline) written as `\\xNN` escapes."""
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    return "".join(_escape(c) if _is_control(c) else c for c in text)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _is_control(char: str) -> bool:
    """Characters a source line may not hold as they are: control characters and Unicode line breaks."""
    return char != "\n" and (unicodedata.category(char) in ("Cc", "Zl", "Zp"))


def class_name(algorithm: str, forbidden: set[str]) -> str:
    """CamelCase: `heavy_ball` -> `HeavyBall`; `Net` is appended where the result would clash."""
    name = "".join(part[:1].upper() + part[1:] for part in algorithm.split("_") if part)
    if not name or name[0].isdigit():
        name = "Net" + name
    if keyword.iskeyword(name) or name in forbidden or name in PYTHON_RESERVED:
        name += "Net"
    return name
