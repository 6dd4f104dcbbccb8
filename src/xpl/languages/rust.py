"""Rust (stable, edition 2021).

A program is one file compiled the way MultiPL-E compiles it (``rustc file.rs``: debug
profile, no optimisation), except that it uses edition 2021 rather than rustc's default (2015),
because that is the Rust models write (``TryFrom`` in the prelude, ``dyn``, disjoint closure
captures); warnings are silenced because generated code is full of them.

Toolchain: rustup installs ``~/.cargo/bin/rustc`` as a *proxy* that picks a toolchain from
rustup's configuration and then execs the real compiler. The proxy needs rustup's state under
``$HOME``, which the sandbox does not expose, so the toolchain is resolved once to the real
``<sysroot>/bin/rustc`` and the sysroot (compiler, ``libstd`` rlibs) is mounted read-only.

Batching: a batch is ONE crate. ``main.rs`` declares ``mod c0; mod c1; ...`` and each ``cN.rs``
holds candidate N's source unchanged, with one line appended at the end (so line numbers are
the candidate's own)::

    pub fn __xpl_entry() -> impl std::process::Termination { main() }

The crate's ``main`` reads which candidate to run from the environment variable
``XPL_BATCH_ENTRY`` (set per run by the plan and removed before the candidate starts, so the
candidate sees the same argv and environment as when run alone), calls its entry and turns the
result into the exit status with ``Termination::report`` -- exactly what the standard runtime
does for a standalone ``main`` (``()`` -> 0, ``Err(e)`` -> prints ``Error: e``, exit 1). Panics
unwind out of ``main`` as usual (exit 101). Known differences from a standalone build, none of
which a harness-driven program can observe through stdout or its exit status: panic locations
name ``cN.rs`` instead of ``main.rs``, ``std::any::type_name`` and ``module_path!`` include the
``cN`` module, and ``crate::`` paths point at the batch root. Candidates that only compile
alone (``crate::`` paths to their own items, crate-level inner attributes, ``#[macro_export]``
clashes between candidates) fail the batch with diagnostics in their own ``cN.rs``, so the
engine's blame-and-retry compiles them alone.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any, Sequence

from xpl.languages.chat import hoist_lines, rename_entry_point
from xpl.languages.lexical import rust_brackets_balance

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
    INT_MIN,
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
    kind_of,
    union_member,
    unions_in,
)

# Strict and reserved keywords of edition 2021 (reserved ones cannot be identifiers either),
# plus ``main``, which the harness defines.
_KEYWORDS = frozenset(
    "as async await break const continue crate dyn else enum extern false fn for if impl in let loop "
    "match mod move mut pub ref return self Self static struct super trait true type unsafe use where "
    "while abstract become box do final macro override priv try typeof unsized virtual yield main".split()
)

# Default rustc settings (opt-level 0, no debuginfo) plus the edition; warnings are noise here.
# One codegen unit: the engine already runs one compiler per core, and LLVM's parallel codegen
# only competes with it (a 60-program batch: 4.3 s instead of 5.3 s on 2 busy cores); it
# changes how code is partitioned for LLVM, never what the program does.
_RUSTC_FLAGS = ("--edition", "2021", "-A", "warnings", "-C", "codegen-units=1")
# Constructs whose meaning differs between a crate root and a module of the batch crate.
_CRATE_SENSITIVE = re.compile(r"\bcrate::|\$crate|\bsuper::|#!\s*\[|\bextern\s+crate\b")
# Constructs that are global to a crate, so one candidate's can clash with another's.
_CRATE_GLOBAL = re.compile(r"#\s*\[\s*(macro_export|no_mangle|export_name|global_allocator|panic_handler|link_section|no_main)\b")

BATCH_ENTRY_ENV = "XPL_BATCH_ENTRY"
_ENTRY_LINE = "pub fn __xpl_entry() -> impl std::process::Termination { main() }\n"

# Deep equality mirroring ``xpl.languages.types.values_equal`` over the types render_type
# produces. Helpers are referred to by full path (never ``use``d) so that they cannot clash
# with imports of the candidate's own.
_HARNESS_PRELUDE = """
trait XplEq {
    fn xpl_eq(&self, other: &Self) -> bool;
}

impl XplEq for i64 {
    fn xpl_eq(&self, other: &Self) -> bool { self == other }
}

impl XplEq for bool {
    fn xpl_eq(&self, other: &Self) -> bool { self == other }
}

impl XplEq for String {
    fn xpl_eq(&self, other: &Self) -> bool { self == other }
}

impl XplEq for () {
    fn xpl_eq(&self, _other: &Self) -> bool { true }
}

impl XplEq for f64 {
    fn xpl_eq(&self, other: &Self) -> bool {
        let (a, b) = (*self, *other);
        if a.is_nan() || b.is_nan() {
            return a.is_nan() && b.is_nan();
        }
        if a.is_infinite() || b.is_infinite() {
            return a == b;
        }
        (a - b).abs() <= f64::max(1e-6 * f64::max(a.abs(), b.abs()), 1e-9)
    }
}

impl<T: XplEq> XplEq for Vec<T> {
    fn xpl_eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().zip(other.iter()).all(|(a, b)| a.xpl_eq(b))
    }
}

impl<T: XplEq> XplEq for Option<T> {
    fn xpl_eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Some(a), Some(b)) => a.xpl_eq(b),
            (None, None) => true,
            _ => false,
        }
    }
}

impl<K: Eq + std::hash::Hash, V: XplEq, S: std::hash::BuildHasher> XplEq for std::collections::HashMap<K, V, S> {
    fn xpl_eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k).map_or(false, |w| v.xpl_eq(w)))
    }
}

fn xpl_check<T: XplEq + std::fmt::Debug>(nonce: &str, i: usize, call: impl FnOnce() -> T, expected: T) -> bool {
    let outcome = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)) {
        Ok(got) => {
            if got.xpl_eq(&expected) {
                "pass"
            } else {
                eprintln!("test {}: expected {:?}, got {:?}", i, expected, got);
                "fail"
            }
        }
        // The panic hook has already printed the message to stderr.
        Err(_) => "error",
    };
    println!("\\n@@xpl {} {} {}", nonce, i, outcome);
    let _ = std::io::Write::flush(&mut std::io::stdout());
    outcome == "pass"
}
"""


# The harness of the value protocol: each result written as JSON by ``XplJson``, implemented
# for every type render_type produces (tuples per arity by ``_tuple_json``). Strings are valid
# UTF-8, written as they are apart from quotes, backslashes and control characters.
_VALUE_PRELUDE = r"""
trait XplJson {
    fn xpl_json(&self, out: &mut String);
}

impl XplJson for i64 {
    fn xpl_json(&self, out: &mut String) { out.push_str(&self.to_string()); }
}

impl XplJson for f64 {
    fn xpl_json(&self, out: &mut String) {
        if self.is_nan() {
            out.push_str("\"nan\"");
        } else if self.is_infinite() {
            out.push_str(if *self > 0.0 { "\"inf\"" } else { "\"-inf\"" });
        } else {
            out.push_str(&format!("{:?}", self));
        }
    }
}

impl XplJson for bool {
    fn xpl_json(&self, out: &mut String) { out.push_str(if *self { "true" } else { "false" }); }
}

impl XplJson for String {
    fn xpl_json(&self, out: &mut String) {
        out.push('"');
        for c in self.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
    }
}

impl XplJson for () {
    fn xpl_json(&self, out: &mut String) { out.push_str("null"); }
}

impl<T: XplJson> XplJson for Vec<T> {
    fn xpl_json(&self, out: &mut String) {
        out.push('[');
        for (i, v) in self.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            v.xpl_json(out);
        }
        out.push(']');
    }
}

impl<T: XplJson> XplJson for Option<T> {
    fn xpl_json(&self, out: &mut String) {
        match self {
            Some(v) => v.xpl_json(out),
            None => out.push_str("null"),
        }
    }
}

impl<K: XplJson, V: XplJson, S> XplJson for std::collections::HashMap<K, V, S> {
    fn xpl_json(&self, out: &mut String) {
        out.push('[');
        for (i, (k, v)) in self.iter().enumerate() {
            out.push_str(if i > 0 { ",[" } else { "[" });
            k.xpl_json(out);
            out.push(',');
            v.xpl_json(out);
            out.push(']');
        }
        out.push(']');
    }
}

fn xpl_report<T: XplJson>(nonce: &str, i: usize, call: &dyn Fn() -> T) {
    let line = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| call())) {
        Ok(got) => {
            let mut line = String::from("value ");
            got.xpl_json(&mut line);
            line
        }
        // The panic hook has already printed the message to stderr.
        Err(_) => String::from("error"),
    };
    println!("\n@@xpl {} {} {}", nonce, i, line);
    let _ = std::io::Write::flush(&mut std::io::stdout());
}
"""


_SHARED_MODULE = "xpl_prelude"
_PUBLIC_VALUE_PRELUDE = _VALUE_PRELUDE.replace("\ntrait XplJson", "\npub trait XplJson", 1).replace("\nfn xpl_report", "\npub fn xpl_report", 1)
_SHARED_USE = f"use crate::{_SHARED_MODULE}::{{XplJson, xpl_report}};\n"
# Names a candidate must not mention for its harness to use the batch's shared prelude.
_PRELUDE_NAMES = re.compile(r"\b(XplJson|xpl_json|xpl_report|" + _SHARED_MODULE + r")\b")


def _share_value_prelude(sources: Sequence[str]) -> tuple[list[str], str]:
    """The batch's sources with the value harness's prelude (the ``XplJson`` trait, its impls
    for std types and tuples, ``xpl_report``) replaced by a ``use`` of one copy in the crate
    root, and that copy (a module, or "" when no source has the prelude).

    Every module of a batch otherwise compiles its own copy of the same ~120 lines of generic
    code, a third or more of rustc's time on a batch of family programs (timed by hand).
    A source shares only when the prelude is there exactly once, after the candidate's code,
    and the candidate's code does not mention the prelude's names (so the ``use`` can neither
    clash with nor change anything of the candidate's): its program then means what it means
    alone, and a compile error in it is still its own. Tuple impls are crate-wide once the
    trait is shared, so those of every arity used move to the shared copy too."""
    out: list[str] = []
    arities: set[int] = set()
    shared_any = False
    for src in sources:
        head, found, tail = src.partition(_VALUE_PRELUDE)
        if not found or _VALUE_PRELUDE in tail or _PRELUDE_NAMES.search(head):
            out.append(src)
            continue
        while True:
            arity = next((n for n in range(1, 13) if tail.startswith(_tuple_json(n))), None)
            if arity is None:
                break
            arities.add(arity)
            tail = tail[len(_tuple_json(arity)) :]
        out.append(head + "\n" + _SHARED_USE + tail)
        shared_any = True
    if not shared_any:
        return out, ""
    body = _PUBLIC_VALUE_PRELUDE + "".join(_tuple_json(n) for n in sorted(arities))
    return out, f"mod {_SHARED_MODULE} {{{body}}}\n\n"


# A union is an enum declared in the prompt, one variant per member, named after its kind.
_VARIANTS = {"int": "Int", "float": "Float", "bool": "Bool", "str": "Str", "list": "List", "tuple": "Tuple", "dict": "Dict"}
_ANY = "Box<dyn std::any::Any>"


def _variants(typ: UnionType) -> list[str]:
    return [_VARIANTS[kind_of(m)] for m in typ.members]


def _enum_name(typ: UnionType) -> str:
    """``StrOrInt`` for ``Union[str, int]``."""
    return "Or".join(_variants(typ))


def _union_json(typ: UnionType) -> str:
    """``XplJson`` for a union's enum: its variant's value."""
    name = _enum_name(typ)
    arms = "".join(f"            {name}::{v}(x) => x.xpl_json(out),\n" for v in _variants(typ))
    return (
        f"\nimpl XplJson for {name} {{\n"
        "    fn xpl_json(&self, out: &mut String) {\n"
        "        match self {\n" + arms + "        }\n"
        "    }\n"
        "}\n"
    )


def _union_eq(typ: UnionType) -> str:
    """``XplEq`` for a union's enum: the same variant, with equal values."""
    name = _enum_name(typ)
    arms = "".join(f"            ({name}::{v}(a), {name}::{v}(b)) => a.xpl_eq(b),\n" for v in _variants(typ))
    return (
        f"\nimpl XplEq for {name} {{\n"
        "    fn xpl_eq(&self, other: &Self) -> bool {\n"
        "        match (self, other) {\n" + arms + "            _ => false,\n"
        "        }\n"
        "    }\n"
        "}\n"
    )


def _tuple_json(arity: int) -> str:
    """``XplJson`` for tuples of one arity (only the arities a signature uses are emitted)."""
    params = [f"A{k}" for k in range(arity)]
    bounds = ", ".join(f"{p}: XplJson" for p in params)
    tuple_type = "(" + ", ".join(params) + ("," if arity == 1 else "") + ")"
    items = "        out.push(',');\n".join(f"        self.{k}.xpl_json(out);\n" for k in range(arity))
    return (
        f"\nimpl<{bounds}> XplJson for {tuple_type} {{\n"
        "    fn xpl_json(&self, out: &mut String) {\n"
        "        out.push('[');\n" + items + "        out.push(']');\n"
        "    }\n"
        "}\n"
    )


def _tuple_impl(arity: int) -> str:
    """``XplEq`` for tuples of one arity (only the arities a signature uses are emitted)."""
    params = [f"A{k}" for k in range(arity)]
    bounds = ", ".join(f"{p}: XplEq" for p in params)
    tuple_type = "(" + ", ".join(params) + ("," if arity == 1 else "") + ")"
    body = " && ".join(f"self.{k}.xpl_eq(&other.{k})" for k in range(arity))
    return (
        f"\nimpl<{bounds}> XplEq for {tuple_type} {{\n"
        f"    fn xpl_eq(&self, other: &Self) -> bool {{ {body} }}\n"
        "}\n"
    )


class Rust(Language):
    name = "rust"
    display_name = "Rust"
    aliases = ("rs",)
    extension = "rs"
    compiled = True
    tools = (("rustc", ("rustc",), ("--version",)),)
    apt_packages = ("rustc",)
    install_hint = "install it with rustup (https://rustup.rs) or `apt-get install rustc`"
    batch_size = 64
    memory_error_patterns = (r"^memory allocation of \d+ bytes failed",)
    # assert!/assert_eq!/assert_ne! in programs without our harness (new and pre-1.73 wording).
    assertion_patterns = (
        r"^assertion `left [=!]= right` failed",
        r"^assertion failed: ",
        r"panicked at '(assertion failed|assertion `left)",
    )
    # MultiPL-E's only Rust stop sequence: the function's closing brace at column 0.
    stop_sequences = ("\n}",)
    completion_suffix = "}\n"
    return_template = "    {}\n"
    comment_prefix = "//"
    reserved_words = _KEYWORDS
    scalar_type_names = {
        IntType: "i64",
        FloatType: "f64",
        BoolType: "bool",
        StrType: "String",
        NoneType: "()",
    }
    float_specials = ("f64::NAN", "f64::INFINITY", "f64::NEG_INFINITY")

    # ----------------------------------------------------------------- toolchain
    def refine_toolchain(self, paths: dict[str, str]) -> tuple[dict[str, str], list[str]]:
        # rustup's proxies are links to one `rustup` binary that dispatches on argv[0], so the
        # sysroot must be asked for through the name found on PATH, not the resolved path.
        proxy = shutil.which("rustc") or paths["rustc"]
        sysroot = _command_output([proxy, "--print", "sysroot"])
        if not sysroot:
            raise ToolchainMissing(f"Rust: `{proxy} --print sysroot` failed (is a default toolchain set?)")
        sysroot_dir = Path(sysroot.splitlines()[-1].strip()).resolve()
        real = sysroot_dir / "bin" / "rustc"
        if not real.is_file():
            raise ToolchainMissing(f"Rust: no compiler at {real} (sysroot reported by {proxy})")
        # The linker rustc drives (`cc`) lives in /usr/bin, which every sandbox exposes.
        return {"rustc": str(real.resolve())}, [str(sysroot_dir)]

    # ----------------------------------------------------------------- building
    def _compile(self, tc: Toolchain, output: str, root: str) -> list[str]:
        return [tc.tool("rustc"), *_RUSTC_FLAGS, "-o", output, root]

    def plan_single(self, source: str, tc: Toolchain) -> BuildPlan:
        return BuildPlan(
            files={"main.rs": source},
            commands=[self._compile(tc, "main", "main.rs")],
            runs=[RunSpec([f"{BUILD}/main"])],
            owners={"main.rs": 0},
        )

    def plan_batch(self, sources: Sequence[str], tc: Toolchain) -> BuildPlan:
        files: dict[str, str] = {}
        owners: dict[str, int] = {}
        runs: list[RunSpec] = []
        arms: list[str] = []
        sources, shared = _share_value_prelude(sources)
        for i, src in enumerate(sources):
            path = f"c{i}.rs"
            files[path] = src + ("" if src.endswith("\n") or not src else "\n") + _ENTRY_LINE
            owners[path] = i
            runs.append(RunSpec([f"{BUILD}/main"], env={BATCH_ENTRY_ENV: str(i)}))
            arms.append(f'        "{i}" => std::process::Termination::report(c{i}::__xpl_entry()),\n')
        files["main.rs"] = (
            shared
            + "".join(f"mod c{i};\n" for i in range(len(sources)))
            + "\nfn main() -> std::process::ExitCode {\n"
            + f'    let entry = std::env::var("{BATCH_ENTRY_ENV}").unwrap_or_default();\n'
            # Single-threaded at this point; the candidate must not see the selector.
            + f'    std::env::remove_var("{BATCH_ENTRY_ENV}");\n'
            + "    match entry.as_str() {\n"
            + "".join(arms)
            + "        _ => {\n"
            + '            eprintln!("xpl batch: no candidate {:?} in this binary", entry);\n'
            + "            std::process::ExitCode::from(2)\n"
            + "        }\n"
            + "    }\n"
            + "}\n"
        )
        return BuildPlan(files, [self._compile(tc, "main", "main.rs")], runs, owners)

    def likely_broken(self, source: str) -> bool:
        return not rust_brackets_balance(source)

    def plan_suspects(self, sources: Sequence[str], tc: Toolchain) -> BuildPlan:
        # rustc gives up on a whole crate at the first file whose delimiters do not close, so
        # a batch of suspects would name one per call: each is its own crate instead, every
        # compiler call in the one sandbox (a broken one costs rustc about 10 ms).
        files: dict[str, str] = {}
        owners: dict[str, int] = {}
        commands: list[list[str]] = []
        runs: list[RunSpec] = []
        for i, src in enumerate(sources):
            path = f"s{i}/main.rs"
            files[path] = src
            owners[path] = i
            commands.append(self._compile(tc, f"s{i}/main", path))
            runs.append(RunSpec([f"{BUILD}/s{i}/main"]))
        return BuildPlan(files, commands, runs, owners, keep_going=True, standalone=True)

    def batch_failure_is_final(self, sources: Sequence[str], index: int) -> bool:
        # A module differs from a crate root only through crate-relative paths and crate-level
        # attributes; and candidates share one crate, so exported or unmangled symbols of two
        # of them could clash. Without any of those, a failure is the candidate's own.
        return not _CRATE_SENSITIVE.search(sources[index]) and not any(_CRATE_GLOBAL.search(s) for s in sources)

    # ----------------------------------------------------------------- rendering
    def render_type(self, typ: Type) -> str:
        return self._type(typ, "HashMap")

    def _type(self, typ: Type, hashmap: str) -> str:
        """``hashmap`` is how HashMap is named: the prompt imports it only when the signature
        uses it, so the values an ``Any`` holds name it by its full path."""
        scalar = self.scalar_type_name(typ)
        if scalar is not None:
            return scalar
        if isinstance(typ, ListType):
            return f"Vec<{self._type(typ.elem, hashmap)}>"
        if isinstance(typ, TupleType):
            if len(typ.elems) > 12:
                # std implements Debug, PartialEq and Hash for tuples of up to 12 elements only.
                raise self.unsupported(f"tuples of more than 12 elements ({len(typ.elems)})")
            items = [self._type(e, hashmap) for e in typ.elems]
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        if isinstance(typ, DictType):
            if any(isinstance(t, FloatType) for t in typ.key.walk()):
                raise self.unsupported(f"dict key type {typ.key} contains f64, which is not Hash/Eq in Rust")
            return f"{hashmap}<{self._type(typ.key, hashmap)}, {self._type(typ.value, hashmap)}>"
        if isinstance(typ, OptionalType):
            return f"Option<{self._type(typ.inner, hashmap)}>"
        if isinstance(typ, UnionType):
            for m in typ.members:
                self._type(m, hashmap)
            return _enum_name(typ)
        if isinstance(typ, AnyType):
            return _ANY
        raise self.unsupported(f"type {typ!r}")

    def _enum(self, typ: UnionType) -> str:
        """The declaration of a union's enum (in the prompt, before the function)."""
        variants = "".join(f"    {v}({self.render_type(m)}),\n" for v, m in zip(_variants(typ), typ.members))
        return f"#[derive(Debug, Clone, PartialEq)]\nenum {_enum_name(typ)} {{\n{variants}}}\n\n"

    def render_value(self, value: Any, typ: Type) -> str:
        return self._value(value, typ, "HashMap")

    def _value(self, value: Any, typ: Type, hashmap: str) -> str:
        if isinstance(typ, OptionalType):
            return "None" if value is None else f"Some({self._value(value, typ.inner, hashmap)})"
        if isinstance(typ, UnionType):
            member = union_member(typ, value)
            variant = _VARIANTS[kind_of(member)]
            return f"{_enum_name(typ)}::{variant}({self._value(value, member, hashmap)})"
        if isinstance(typ, AnyType):
            dyn = dynamic_type(value)  # the box's type is explicit: a bare 4 would be an i32
            full = "std::collections::HashMap"
            return f"Box::<{self._type(dyn, full)}>::new({self._value(value, dyn, full)}) as {_ANY}"
        if isinstance(typ, NoneType):
            return "()"
        if isinstance(typ, FloatType):
            return self.float_literal(value)  # always has a '.' or an exponent, so it is a float literal
        if isinstance(typ, IntType):
            self.check_int(value)
            # The literal 9223372036854775808 does not fit i64 before negation.
            return "i64::MIN" if value == INT_MIN else str(int(value))
        if isinstance(typ, BoolType):
            return "true" if value else "false"
        if isinstance(typ, StrType):
            return f"String::from({self._string_literal(value)})"
        if isinstance(typ, ListType):
            if not value:
                return f"Vec::<{self._type(typ.elem, hashmap)}>::new()"
            return "vec![" + ", ".join(self._value(v, typ.elem, hashmap) for v in value) + "]"
        if isinstance(typ, TupleType):
            items = [self._value(v, t, hashmap) for v, t in zip(value, typ.elems)]
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        if isinstance(typ, DictType):
            if not value:
                return f"{hashmap}::<{self._type(typ.key, hashmap)}, {self._type(typ.value, hashmap)}>::new()"
            pairs = [f"({self._value(k, typ.key, hashmap)}, {self._value(v, typ.value, hashmap)})" for k, v in value.items()]
            return f"{hashmap}::from([" + ", ".join(pairs) + "])"
        raise self.unsupported(f"value {value!r} of type {typ!r}")

    def _string_literal(self, s: str) -> str:
        if any(0xD800 <= ord(ch) <= 0xDFFF for ch in s):
            raise self.unsupported("string with a lone surrogate (Rust strings are valid UTF-8)")
        # Non-ASCII as \u{...} keeps sources ASCII; `{`, `$` and `#` are not special in Rust literals.
        return escape_string(s, '"', unicode="\\u{{{:x}}}")

    def split_reply(self, code: str, sig: Signature) -> tuple[list[str], str]:
        # `use` lines go to the header (Rust rejects a name imported twice, and the header may
        # import HashMap already); a fn main of the reply's becomes an uncalled function.
        imports, code = hoist_lines(code, r"use\s+[^;{]+;")
        # The header declares the signature's enums: a reply's own declaration of one goes.
        for union in unions_in(sig.types()):
            code = _remove_item(code, rf"^[ \t]*(?:#\[[^\]]*\]\s*)*(?:pub\s+)?enum\s+{_enum_name(union)}\b[^{{]*")
        return imports, rename_entry_point(code, r"^(\s*)fn\s+main\s*\(\s*\)", r"\1#[allow(dead_code)]\n\1fn xpl_user_main()")

    def chat_message(self, sig: Signature, docstring: str) -> str:
        message = super().chat_message(sig, docstring)
        unions = unions_in(sig.types())
        if not unions:
            return message
        # The signature names enums the header declares: the model is shown them.
        decls = "".join(self._enum(u) for u in unions).strip("\n")
        first, _, rest = message.partition("\n")
        return f"{first}\nIt uses this enum, already declared:\n```rust\n{decls}\n```\n{rest}"

    def prompt(self, sig: Signature, docstring: str) -> str:
        uses_map = any(isinstance(t, DictType) for top in sig.types() for t in top.walk())
        head = "use std::collections::HashMap;\n\n" if uses_map else ""
        head += "".join(self._enum(u) for u in unions_in(sig.types()))
        doc = docstring.strip("\n")
        if doc:
            head += "".join(f"/// {ln}".rstrip() + "\n" for ln in doc.splitlines())
        params = ", ".join(f"{self.identifier(p.name)}: {self.render_type(p.type)}" for p in sig.params)
        ret = "" if isinstance(sig.returns, NoneType) else f" -> {self.render_type(sig.returns)}"
        return head + f"fn {self.identifier(sig.name)}({params}){ret} {{\n"

    def harness(self, sig: Signature, tests: Sequence[TestCase]) -> str:
        self.refuse_any_result(sig)
        arities = sorted({len(t.elems) for t in sig.returns.walk() if isinstance(t, TupleType) and t.elems})
        fn = self.identifier(sig.name)
        calls = []
        for i, t in enumerate(tests):
            args = ", ".join(self.render_value(a, p.type) for a, p in zip(t.args, sig.params))
            # A trait object, not a generic closure: one xpl_report per return type instead
            # of one per test (a quarter of a batch's compile time).
            calls.append(f"    xpl_report(&xpl_nonce, {i}, &|| {fn}({args}));\n")
        return (
            _VALUE_PRELUDE
            + "".join(_tuple_json(n) for n in arities)
            + "".join(_union_json(u) for u in unions_in([sig.returns]))
            + "\nfn main() {\n"
            + '    let xpl_nonce = std::env::var("XPL_NONCE").unwrap_or_else(|_| String::from("-"));\n'
            + "".join(calls)
            + '    println!("\\n@@xpl {} done", xpl_nonce);\n'
            + "    let _ = std::io::Write::flush(&mut std::io::stdout());\n"
            + "}\n"
        )

    def check_harness(self, sig: Signature, tests: Sequence[TestCase]) -> str:
        self.refuse_any_result(sig)
        arities = sorted(
            {len(t.elems) for t in sig.returns.walk() if isinstance(t, TupleType) and t.elems}
        )
        fn = self.identifier(sig.name)
        calls = []
        for i, t in enumerate(tests):
            args = ", ".join(self.render_value(a, p.type) for a, p in zip(t.args, sig.params))
            expected = self.render_value(t.expected, sig.returns)
            calls.append(f"    xpl_passed += xpl_check(&xpl_nonce, {i}, || {fn}({args}), {expected}) as usize;\n")
        return (
            _HARNESS_PRELUDE
            + "".join(_tuple_impl(n) for n in arities)
            + "".join(_union_eq(u) for u in unions_in([sig.returns]))
            + "\nfn main() {\n"
            + '    let xpl_nonce = std::env::var("XPL_NONCE").unwrap_or_else(|_| String::from("-"));\n'
            + "    let mut xpl_passed: usize = 0;\n"
            + "".join(calls)
            + '    println!("\\n@@xpl {} done", xpl_nonce);\n'
            + "    let _ = std::io::Write::flush(&mut std::io::stdout());\n"
            + f"    std::process::exit(if xpl_passed == {len(tests)} {{ 0 }} else {{ 1 }});\n"
            + "}\n"
        )


def _remove_item(code: str, pattern: str) -> str:
    """``code`` without the items (``enum X { ... }``) whose header matches ``pattern``."""
    from xpl.languages.chat import remove_method

    return remove_method(code, pattern)
