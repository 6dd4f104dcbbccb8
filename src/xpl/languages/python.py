"""Python 3.

Programs run with ``-I -S``: isolated mode and no site-packages, so a result never depends
on what happens to be pip-installed on the host (only the standard library is available,
as in HumanEval). The engine runs Python programs in a forked, pre-started interpreter
(``RunSpec.python_inline``), which has the same semantics as ``python -I -S file.py`` without
the interpreter start-up.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from xpl.languages.base import (
    BUILD,
    BuildPlan,
    Language,
    RunSpec,
    Toolchain,
    ToolchainMissing,
    _command_output,
)
from xpl.languages.types import (
    AnyType,
    BoolType,
    DictType,
    FloatType,
    IntType,
    ListType,
    NoneType,
    OptionalType,
    Signature,
    StrType,
    TestCase,
    TupleType,
    Type,
    UnionType,
    dynamic_type,
    union_member,
)

_KEYWORDS = frozenset(
    "False None True and as assert async await break class continue def del elif else except "
    "finally for from global if import in is lambda nonlocal not or pass raise return try while "
    "with yield".split()
)

# Deep equality mirroring ``xpl.languages.types.values_equal``; embedded in every harness.
_HARNESS_PRELUDE = '''

def __xpl_close(a, b):
    import math
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= max(1e-6 * max(abs(a), abs(b)), 1e-9)


def __xpl_equal(a, b):
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, bool) or isinstance(b, bool):
            return False
        if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
            return False
        return __xpl_close(float(a), float(b))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(__xpl_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(__xpl_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def __xpl_run(candidate, tests):
    import os, sys
    nonce = os.environ.get("XPL_NONCE", "-")
    failed = 0
    for i, (args, expected) in enumerate(tests):
        try:
            outcome = "pass" if __xpl_equal(candidate(*args), expected) else "fail"
        except BaseException as exc:  # noqa: BLE001 - any raise is this test's error
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            print(f"test {i}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            outcome = "error"
        failed += outcome != "pass"
        print(f"\\n@@xpl {nonce} {i} {outcome}", flush=True)
    print(f"\\n@@xpl {nonce} done", flush=True)
    sys.exit(1 if failed else 0)
'''


# The harness of the value protocol: each test's result as JSON, checked against the declared
# type the way ``__xpl_equal`` above would compare it with a value of that type (an int and a
# float are numbers to each other; a tuple and a list are sequences), and ``{"invalid": ...}``
# for anything else. Encoders are composed per type by ``Python._encoder``.
_VALUE_PRELUDE = '''

def __xpl_invalid(v):
    return {"invalid": type(v).__name__}


def __xpl_number(v):
    import math
    if type(v) is int:
        return v
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else float(v)
    return __xpl_invalid(v)


def __xpl_exact(kind):
    return lambda v: v if type(v) is kind else __xpl_invalid(v)


def __xpl_none(v):
    return None if v is None else __xpl_invalid(v)


def __xpl_optional(inner):
    return lambda v: None if v is None else inner(v)


def __xpl_list(elem):
    return lambda v: [elem(x) for x in v] if isinstance(v, (list, tuple)) else __xpl_invalid(v)


def __xpl_tuple(*elems):
    return lambda v: (
        [e(x) for e, x in zip(elems, v)] if isinstance(v, (list, tuple)) and len(v) == len(elems) else __xpl_invalid(v)
    )


def __xpl_dict(key, value):
    return lambda v: [[key(k), value(x)] for k, x in v.items()] if isinstance(v, dict) else __xpl_invalid(v)


def __xpl_union(*members):
    def encode(v):
        for member in members:
            out = member(v)
            if not isinstance(out, dict):
                return out
        return __xpl_invalid(v)
    return encode


def __xpl_report(candidate, encode, tests):
    import json, os, sys
    nonce = os.environ.get("XPL_NONCE", "-")
    for i, args in enumerate(tests):
        try:
            line = "value " + json.dumps(encode(candidate(*args)), allow_nan=False)
        except BaseException as exc:  # noqa: BLE001 - any raise is this test's error
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            print(f"test {i}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            line = "error"
        print(f"\\n@@xpl {nonce} {i} {line}", flush=True)
    print(f"\\n@@xpl {nonce} done", flush=True)
'''


class Python(Language):
    name = "python"
    display_name = "Python"
    aliases = ("py", "python3")
    extension = "py"
    tools = (("python", ("python3", "python"), ("--version",)),)
    apt_packages = ("python3",)
    syntax_error_patterns = (r"^(SyntaxError|IndentationError|TabError)\b",)
    assertion_patterns = (r"^AssertionError\b",)
    memory_error_patterns = (r"^MemoryError\b",)
    stop_sequences = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#")
    completion_suffix = ""
    return_template = "    return {}\n"
    comment_prefix = "#"
    block = "indent"
    reserved_words = _KEYWORDS
    scalar_type_names = {
        IntType: "int",
        FloatType: "float",
        BoolType: "bool",
        StrType: "str",
        NoneType: "None",
    }
    float_specials = ("float('nan')", "float('inf')", "float('-inf')")

    def refine_toolchain(self, paths: dict[str, str]) -> tuple[dict[str, str], list[str]]:
        # Resolve shims (pyenv, asdf) and virtual environments to the real interpreter.
        out = _command_output(
            [paths["python"], "-c", "import sys; print(sys.executable); print(sys.base_prefix); print(sys.version_info >= (3, 8))"]
        )
        if out is None or len(out.splitlines()) != 3:
            raise ToolchainMissing(f"Python: {paths['python']} did not run")
        exe, prefix, recent = out.splitlines()
        if recent != "True":
            raise ToolchainMissing(f"Python: {paths['python']} is older than 3.8")
        import os

        real = os.path.realpath(exe)
        return {"python": real}, [prefix] if not real.startswith("/usr/") else []

    # ----------------------------------------------------------------- building
    def plan_single(self, source: str, tc: Toolchain) -> BuildPlan:
        path = f"{BUILD}/main.py"
        run = RunSpec([tc.tool("python"), "-I", "-S", path], python_inline=path)
        return BuildPlan({"main.py": source}, [], [run], {"main.py": 0})

    # ----------------------------------------------------------------- rendering
    def render_type(self, typ: Type) -> str:
        scalar = self.scalar_type_name(typ)
        if scalar is not None:
            return scalar
        if isinstance(typ, ListType):
            return f"List[{self.render_type(typ.elem)}]"
        if isinstance(typ, TupleType):
            if not typ.elems:
                return "Tuple[()]"
            return f"Tuple[{', '.join(self.render_type(e) for e in typ.elems)}]"
        if isinstance(typ, DictType):
            return f"Dict[{self.render_type(typ.key)}, {self.render_type(typ.value)}]"
        if isinstance(typ, OptionalType):
            return f"Optional[{self.render_type(typ.inner)}]"
        if isinstance(typ, UnionType):
            return f"Union[{', '.join(self.render_type(m) for m in typ.members)}]"
        if isinstance(typ, AnyType):
            return "Any"
        raise self.unsupported(f"type {typ!r}")

    def render_value(self, value: Any, typ: Type) -> str:
        if value is None:
            return "None"
        if isinstance(typ, OptionalType):
            return self.render_value(value, typ.inner)
        if isinstance(typ, UnionType):
            return self.render_value(value, union_member(typ, value))
        if isinstance(typ, AnyType):
            return self.render_value(value, dynamic_type(value))
        if isinstance(typ, FloatType):
            return self.float_literal(value)
        if isinstance(typ, IntType):
            self.check_int(value)
            return repr(int(value))
        if isinstance(typ, (BoolType, StrType)):
            return repr(value)
        if isinstance(typ, ListType):
            return "[" + ", ".join(self.render_value(v, typ.elem) for v in value) + "]"
        if isinstance(typ, TupleType):
            items = [self.render_value(v, t) for v, t in zip(value, typ.elems)]
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        if isinstance(typ, DictType):
            return (
                "{"
                + ", ".join(f"{self.render_value(k, typ.key)}: {self.render_value(v, typ.value)}" for k, v in value.items())
                + "}"
            )
        raise self.unsupported(f"value {value!r} of type {typ!r}")

    def _typing_imports(self, sig: Signature) -> str:
        names = {
            "ListType": "List", "TupleType": "Tuple", "DictType": "Dict", "OptionalType": "Optional",
            "UnionType": "Union", "AnyType": "Any",
        }
        used = sorted({names[type(t).__name__] for top in sig.types() for t in top.walk() if type(t).__name__ in names})
        return f"from typing import {', '.join(used)}\n\n\n" if used else ""

    def split_reply(self, code: str, sig: Signature) -> tuple[list[str], str]:
        # The harness runs under `if __name__ == '__main__'`; a reply's own main block would
        # run first (and may read stdin or print), so it is switched off.
        return [], re.sub(r"^if\s+__name__\s*==\s*['\"]__main__['\"]\s*:", "if False:", code, flags=re.MULTILINE)

    def prompt(self, sig: Signature, docstring: str) -> str:
        params = ", ".join(f"{self.identifier(p.name)}: {self.render_type(p.type)}" for p in sig.params)
        head = f"def {self.identifier(sig.name)}({params}) -> {self.render_type(sig.returns)}:\n"
        doc = docstring.strip("\n")
        if doc:
            lines = doc.replace('"""', r"\"\"\"").splitlines()
            body = "\n".join(("    " + ln) if ln.strip() else "" for ln in lines)
            head += f'    """{body.lstrip()}\n    """\n'
        return self._typing_imports(sig) + head

    def harness(self, sig: Signature, tests: Sequence[TestCase]) -> str:
        self.refuse_any_result(sig)
        rows = []
        for t in tests:
            args = [self.render_value(a, p.type) for a, p in zip(t.args, sig.params)]
            rows.append("    (" + ", ".join(args) + ("," if len(args) == 1 else "") + "),\n")
        return (
            _VALUE_PRELUDE
            + "\n\nif __name__ == '__main__':\n"
            + f"    __xpl_report({self.identifier(sig.name)}, {self._encoder(sig.returns)}, [\n"
            + "".join("    " + r for r in rows)
            + "    ])\n"
        )

    def _encoder(self, typ: Type) -> str:
        """A harness expression: the function from a result to its JSON value (see _VALUE_PRELUDE)."""
        if isinstance(typ, (IntType, FloatType)):
            return "__xpl_number"
        if isinstance(typ, (BoolType, StrType)):
            return f"__xpl_exact({self.render_type(typ)})"
        if isinstance(typ, NoneType):
            return "__xpl_none"
        if isinstance(typ, OptionalType):
            return f"__xpl_optional({self._encoder(typ.inner)})"
        if isinstance(typ, ListType):
            return f"__xpl_list({self._encoder(typ.elem)})"
        if isinstance(typ, TupleType):
            return "__xpl_tuple(" + ", ".join(self._encoder(e) for e in typ.elems) + ")"
        if isinstance(typ, DictType):
            return f"__xpl_dict({self._encoder(typ.key)}, {self._encoder(typ.value)})"
        if isinstance(typ, UnionType):
            return "__xpl_union(" + ", ".join(self._encoder(m) for m in typ.members) + ")"
        raise self.unsupported(f"type {typ!r} as a result")

    def check_harness(self, sig: Signature, tests: Sequence[TestCase]) -> str:
        self.refuse_any_result(sig)
        rows = []
        for t in tests:
            args = [self.render_value(a, p.type) for a, p in zip(t.args, sig.params)]
            arg_tuple = "(" + ", ".join(args) + ("," if len(args) == 1 else "") + ")"
            rows.append(f"    ({arg_tuple}, {self.render_value(t.expected, sig.returns)}),\n")
        return (
            _HARNESS_PRELUDE
            + "\n\nif __name__ == '__main__':\n"
            + f"    __xpl_run({self.identifier(sig.name)}, [\n"
            + "".join("    " + r for r in rows)
            + "    ])\n"
        )
