"""Julia (1.9 and later).

Problems are written the MultiPL-E way: a ``\"\"\"docstring\"\"\"`` above a typed
``function name(a::Int64, b::Int64)::Int64``, closed by ``end``. Types map to ``Int64``,
``Float64``, ``Bool``, ``String``, ``Nothing``, ``Vector{T}``, ``Tuple{A, B}``,
``Dict{K, V}`` and ``Union{T, Nothing}``. Literals are fully typed (``Int64[]``,
``Vector{Int64}[Int64[1]]``, ``Dict{String, Int64}("a" => 1)``) because Julia's container
types are invariant: an untyped ``[]`` is a ``Vector{Any}``, which a method taking
``Vector{Int64}`` rejects.

Programs run as ``julia --startup-file=no --history-file=no --color=no main.jl``: no
``~/.julia/config/startup.jl``, no REPL history, plain error text. The default optimisation
level is kept (``--compile=min``/``-O0`` would start faster but run loops in the interpreter,
so a program could time out here and pass when run normally). Julia writes its caches to the
first entry of its depot path, ``~/.julia``, which the engine's writable ``HOME`` provides;
the precompiled standard library ships in the installation's ``share/julia``, which is on
the default depot path too, so no ``JULIA_DEPOT_PATH`` is set.

Syntax errors: ``include`` evaluates a file's top-level expressions in order and stops at
the first one that does not parse, so code before a parse error does run. The candidate
function is the first expression of every program, so when it does not parse nothing has
run and the output is ``ERROR: LoadError: ParseError:`` (1.10+, JuliaSyntax) or
``ERROR: LoadError: syntax: ...`` (1.9).
"""

from __future__ import annotations

import os
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
    escape_string,
)
from xpl.languages.types import (
    AnyType,
    INT_MIN,
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
    "baremodule begin break catch const continue do else elseif end export false finally for "
    "function global if import let local macro module quote return struct true try using while "
    # infix keywords and special names that cannot be parameters either
    "in isa where ccall".split()
)

RUN_FLAGS = ("--startup-file=no", "--history-file=no", "--color=no")


class _JuliaUnicode:
    """``unicode`` formatter for ``escape_string``: Julia's ``\\u`` takes up to 4 and ``\\U``
    up to 8 hex digits, greedily, so always write all of them (``"\\u00e9" * "9"`` must not
    become U+E99)."""

    def format(self, cp: int) -> str:
        return f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}"


# Deep equality mirroring ``xpl.languages.types.values_equal``. Base functions are called
# qualified: a candidate named e.g. ``length`` or ``max`` defines a new ``Main.length`` that
# shadows Base's in this file.
_HARNESS_PRELUDE = r'''

function __xpl_close(a::Float64, b::Float64)::Bool
    if Base.isnan(a) || Base.isnan(b)
        return Base.isnan(a) && Base.isnan(b)
    end
    if Base.isinf(a) || Base.isinf(b)
        return a == b
    end
    return Base.abs(a - b) <= Base.max(1e-6 * Base.max(Base.abs(a), Base.abs(b)), 1e-9)
end

# Bool <: Integer in Julia, but true is not the number 1 here (as in Python's harness)
__xpl_isnumber(x) = (x isa Integer || x isa AbstractFloat) && !(x isa Bool)

function __xpl_equal(a, b)::Bool
    if a isa AbstractFloat || b isa AbstractFloat
        return __xpl_isnumber(a) && __xpl_isnumber(b) && __xpl_close(Float64(a), Float64(b))
    end
    if (a isa AbstractVector || a isa Tuple) && (b isa AbstractVector || b isa Tuple)
        Base.length(a) == Base.length(b) || return false
        for (x, y) in Base.zip(a, b)
            __xpl_equal(x, y) || return false
        end
        return true
    end
    if a isa AbstractDict && b isa AbstractDict
        Base.length(a) == Base.length(b) || return false
        for (k, v) in a
            Base.haskey(b, k) || return false
            __xpl_equal(v, b[k]) || return false
        end
        return true
    end
    if a isa AbstractString && b isa AbstractString
        return a == b
    end
    if a isa Integer && b isa Integer
        return (a isa Bool) == (b isa Bool) && a == b
    end
    return Base.typeof(a) == Base.typeof(b) && Base.isequal(a, b)
end

function __xpl_run(candidate, tests)
    nonce = Base.get(Base.ENV, "XPL_NONCE", "-")
    failed = 0
    for (n, (args, expected)) in Base.enumerate(tests)
        i = n - 1
        outcome = try
            actual = candidate(args...)
            if __xpl_equal(actual, expected)
                "pass"
            else
                Base.println(Base.stderr, "test ", i, ": expected ", Base.repr(expected), ", got ", Base.repr(actual))
                "fail"
            end
        catch err
            err isa InterruptException && Base.rethrow()
            Base.println(Base.stderr, "test ", i, ": ", Base.sprint(Base.showerror, err))
            "error"
        end
        if outcome != "pass"
            failed += 1
        end
        Base.print(Base.stdout, "\n@@xpl ", nonce, " ", i, " ", outcome, "\n")
        Base.flush(Base.stdout)
    end
    Base.print(Base.stdout, "\n@@xpl ", nonce, " done\n")
    Base.flush(Base.stdout)
    Base.exit(failed == 0 ? 0 : 1)
end
'''


# The harness of the value protocol: each result written as JSON by a closure that
# ``Julia._encoder`` composes per type, accepting what ``__xpl_equal`` above would compare
# equal to a value of that type (integers and floats are numbers to each other, Bool is not a
# number, a Tuple is a sequence) and writing {"invalid": ...} for anything else. Strings are
# written byte for byte apart from quotes, backslashes and control characters.
_VALUE_PRELUDE = r'''

# Bool <: Integer in Julia, but true is not the number 1 here (as in Python's harness)
__xpl_isnumber(x) = (x isa Integer || x isa AbstractFloat) && !(x isa Bool)

__xpl_invalid(v) = "{\"invalid\":\"" * Base.filter(c -> Base.isascii(c) && Base.isletter(c), Base.string(Base.nameof(Base.typeof(v)))) * "\"}"

function __xpl_json_number(v)
    __xpl_isnumber(v) || return __xpl_invalid(v)
    v isa Integer && return Base.string(v)
    x = Float64(v)
    Base.isnan(x) && return "\"nan\""
    Base.isinf(x) && return x > 0 ? "\"inf\"" : "\"-inf\""
    return Base.repr(x)
end

__xpl_json_bool(v) = v isa Bool ? (v ? "true" : "false") : __xpl_invalid(v)

function __xpl_json_string(v)
    v isa AbstractString || return __xpl_invalid(v)
    out = Base.IOBuffer()
    Base.write(out, '"')
    for b in Base.codeunits(Base.String(v))
        if b == 0x22 || b == 0x5c || b < 0x20
            Base.write(out, "\\u", Base.string(b, base = 16, pad = 4))
        else
            Base.write(out, b)
        end
    end
    Base.write(out, '"')
    return Base.String(Base.take!(out))
end

__xpl_json_nothing(v) = v === nothing ? "null" : __xpl_invalid(v)
__xpl_json_optional(inner) = v -> v === nothing ? "null" : inner(v)

# The first member that takes the value (a JSON object is only ever {"invalid": ...}).
function __xpl_json_union(members...)
    return function (v)
        for m in members
            out = m(v)
            Base.startswith(out, "{") || return out
        end
        return __xpl_invalid(v)
    end
end

__xpl_json_list(elem) = v -> (v isa AbstractVector || v isa Tuple) ? "[" * Base.join(Base.map(elem, v), ",") * "]" : __xpl_invalid(v)

function __xpl_json_tuple(elems...)
    return v -> if (v isa AbstractVector || v isa Tuple) && Base.length(v) == Base.length(elems)
        "[" * Base.join([e(x) for (e, x) in Base.zip(elems, v)], ",") * "]"
    else
        __xpl_invalid(v)
    end
end

__xpl_json_dict(key, value) = v -> v isa AbstractDict ? "[" * Base.join(["[" * key(k) * "," * value(x) * "]" for (k, x) in v], ",") * "]" : __xpl_invalid(v)

function __xpl_report(candidate, encode, tests)
    nonce = Base.get(Base.ENV, "XPL_NONCE", "-")
    for (n, args) in Base.enumerate(tests)
        i = n - 1
        line = try
            "value " * encode(candidate(args...))
        catch err
            err isa InterruptException && Base.rethrow()
            Base.println(Base.stderr, "test ", i, ": ", Base.sprint(Base.showerror, err))
            "error"
        end
        Base.print(Base.stdout, "\n@@xpl ", nonce, " ", i, " ", line, "\n")
        Base.flush(Base.stdout)
    end
    Base.print(Base.stdout, "\n@@xpl ", nonce, " done\n")
    Base.flush(Base.stdout)
    Base.exit(0)
end
'''


class Julia(Language):
    name = "julia"
    display_name = "Julia"
    aliases = ("jl", "julia")
    extension = "jl"
    tools = (("julia", ("julia",), ("--version",)),)
    apt_packages = ()  # Debian's `julia` stopped at 1.5 and left before bookworm
    install_hint = (
        "install Julia 1.9 or later from https://julialang.org/downloads/ (or with juliaup) "
        "and put `julia` on PATH"
    )
    syntax_error_patterns = (r"^ERROR: (LoadError: )?(ParseError:|syntax: )",)
    assertion_patterns = (
        r"^ERROR: (LoadError: )?AssertionError\b",  # @assert
        r"Test Failed at ",  # Test.@test, used by MultiPL-E's Julia suites
    )
    memory_error_patterns = (r"\bOutOfMemoryError\(\)", r"could not allocate pools", r"^Out of memory!")
    stop_sequences = ("\nend", "\nfunction ", "\nmacro ", '\n"""', "\n#", "\nusing ", "\nimport ")
    completion_suffix = "end\n"
    return_template = "    return {}\n"
    comment_prefix = "#"
    block = "end"
    reserved_words = _KEYWORDS
    scalar_type_names = {
        IntType: "Int64",
        FloatType: "Float64",
        BoolType: "Bool",
        StrType: "String",
        NoneType: "Nothing",
    }
    float_specials = ("NaN", "Inf", "-Inf")

    def refine_toolchain(self, paths: dict[str, str]) -> tuple[dict[str, str], list[str]]:
        # `julia` on PATH is often juliaup's launcher, which picks and execs a real julia.
        # Ask Julia where its own binary is; its prefix (bin/, lib/, share/) becomes a root.
        out = _command_output(
            [paths["julia"], *RUN_FLAGS, "-e", "print(joinpath(Sys.BINDIR, Base.julia_exename()))"],
            timeout=120.0,
        )
        if out is None or not os.path.isfile(out):
            raise ToolchainMissing(f"Julia: {paths['julia']} did not run")
        return {"julia": os.path.realpath(out)}, []

    # ----------------------------------------------------------------- building
    def plan_single(self, source: str, tc: Toolchain) -> BuildPlan:
        run = RunSpec([tc.tool("julia"), *RUN_FLAGS, f"{BUILD}/main.jl"])
        return BuildPlan({"main.jl": source}, [], [run], {"main.jl": 0})

    # ----------------------------------------------------------------- rendering
    def render_type(self, typ: Type) -> str:
        scalar = self.scalar_type_name(typ)
        if scalar is not None:
            return scalar
        if isinstance(typ, ListType):
            return f"Vector{{{self.render_type(typ.elem)}}}"
        if isinstance(typ, TupleType):
            return "Tuple{" + ", ".join(self.render_type(e) for e in typ.elems) + "}"
        if isinstance(typ, DictType):
            return f"Dict{{{self.render_type(typ.key)}, {self.render_type(typ.value)}}}"
        if isinstance(typ, OptionalType):
            if isinstance(typ.inner, UnionType):
                return "Union{" + ", ".join(self.render_type(m) for m in typ.inner.members) + ", Nothing}"
            return f"Union{{{self.render_type(typ.inner)}, Nothing}}"
        if isinstance(typ, UnionType):
            return "Union{" + ", ".join(self.render_type(m) for m in typ.members) + "}"
        if isinstance(typ, AnyType):
            return "Any"
        raise self.unsupported(f"type {typ!r}")

    def render_value(self, value: Any, typ: Type) -> str:
        if value is None:
            return "nothing"
        if isinstance(typ, OptionalType):
            return self.render_value(value, typ.inner)
        if isinstance(typ, UnionType):
            return self.render_value(value, union_member(typ, value))
        if isinstance(typ, AnyType):
            return self.render_value(value, dynamic_type(value))
        if isinstance(typ, FloatType):
            return self.float_literal(value)  # "1e-07", "1.5", "-0.0": all Float64 literals in Julia
        if isinstance(typ, IntType):
            self.check_int(value)
            # the literal 9223372036854775808 is an Int128, and so would be its negation
            return "typemin(Int64)" if value == INT_MIN else str(int(value))
        if isinstance(typ, BoolType):
            return "true" if value else "false"
        if isinstance(typ, StrType):
            return self.render_string(value)
        if isinstance(typ, ListType):
            # typed even when not empty: the element type must be exactly typ.elem
            return self.render_type(typ.elem) + "[" + ", ".join(self.render_value(v, typ.elem) for v in value) + "]"
        if isinstance(typ, TupleType):
            items = [self.render_value(v, t) for v, t in zip(value, typ.elems)]
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        if isinstance(typ, DictType):
            pairs = (f"{self.render_value(k, typ.key)} => {self.render_value(v, typ.value)}" for k, v in value.items())
            return self.render_type(typ) + "(" + ", ".join(pairs) + ")"
        raise self.unsupported(f"value {value!r} of type {typ!r}")

    def render_string(self, s: str) -> str:
        """A double-quoted literal; ``\\$`` stops interpolation."""
        if any(0xD800 <= ord(ch) <= 0xDFFF for ch in s):
            raise self.unsupported("strings with lone surrogate code points")
        return escape_string(s, '"', extra={"$": "\\$"}, unicode=_JuliaUnicode())

    def docstring(self, text: str) -> str:
        """``text`` as a triple-quoted docstring, each line kept as it is where Julia allows."""
        body = text.strip("\n").replace("\\", "\\\\").replace("$", "\\$")
        # Only three quotes in a row end the string; escape every quote of such a run.
        body = re.sub(r'"{3,}', lambda m: '\\"' * len(m.group()), body)
        return f'"""\n{body}\n"""\n'

    def prompt(self, sig: Signature, docstring: str) -> str:
        params = ", ".join(f"{self.identifier(p.name)}::{self.render_type(p.type)}" for p in sig.params)
        head = f"function {self.identifier(sig.name)}({params})::{self.render_type(sig.returns)}\n"
        return (self.docstring(docstring) if docstring.strip() else "") + head

    def harness(self, sig: Signature, tests: Sequence[TestCase]) -> str:
        self.refuse_any_result(sig)
        rows = []
        for t in tests:
            args = [self.render_value(a, p.type) for a, p in zip(t.args, sig.params)]
            rows.append("    (" + ", ".join(args) + ("," if len(args) == 1 else "") + "),\n")
        return (
            _VALUE_PRELUDE
            + f"\n__xpl_report({self.identifier(sig.name)}, {self._encoder(sig.returns)}, Any[\n"
            + "".join(rows)
            + "])\n"
        )

    def _encoder(self, typ: Type) -> str:
        """A Julia expression: the function writing a result of type ``typ`` as JSON."""
        if isinstance(typ, (IntType, FloatType)):
            return "__xpl_json_number"
        if isinstance(typ, BoolType):
            return "__xpl_json_bool"
        if isinstance(typ, StrType):
            return "__xpl_json_string"
        if isinstance(typ, NoneType):
            return "__xpl_json_nothing"
        if isinstance(typ, OptionalType):
            return f"__xpl_json_optional({self._encoder(typ.inner)})"
        if isinstance(typ, ListType):
            return f"__xpl_json_list({self._encoder(typ.elem)})"
        if isinstance(typ, TupleType):
            return "__xpl_json_tuple(" + ", ".join(self._encoder(e) for e in typ.elems) + ")"
        if isinstance(typ, DictType):
            return f"__xpl_json_dict({self._encoder(typ.key)}, {self._encoder(typ.value)})"
        if isinstance(typ, UnionType):
            return "__xpl_json_union(" + ", ".join(self._encoder(m) for m in typ.members) + ")"
        raise self.unsupported(f"type {typ!r} as a result")

    def check_harness(self, sig: Signature, tests: Sequence[TestCase]) -> str:
        self.refuse_any_result(sig)
        rows = []
        for t in tests:
            args = [self.render_value(a, p.type) for a, p in zip(t.args, sig.params)]
            arg_tuple = "(" + ", ".join(args) + ("," if len(args) == 1 else "") + ")"
            rows.append(f"    ({arg_tuple}, {self.render_value(t.expected, sig.returns)}),\n")
        # Any[...]: a plain [...] would promote the rows to a common type, converting values
        return _HARNESS_PRELUDE + f"\n__xpl_run({self.identifier(sig.name)}, Any[\n" + "".join(rows) + "])\n"
