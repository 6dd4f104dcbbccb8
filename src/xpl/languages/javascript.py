"""JavaScript on Node.js.

Programs follow MultiPL-E's JavaScript conventions: a plain ``function name(params){``
with the docstring as ``//`` comments above it, ``None`` is ``undefined``, tuples are arrays,
dicts are plain objects (so integer keys become string keys, as in every JavaScript
program), and every number is a double: integers are exact up to 2**53 only, and larger
literals round to the nearest double on both sides of a comparison, as in MultiPL-E.

A program is run as ``node main.js``: a CommonJS script, in sloppy mode (no
``"use strict"``), exactly as a user would run it. The build directory holds a
``package.json`` saying ``"type": "commonjs"`` so that the module system never depends on
where the build directory lives or on the Node.js version (recent versions guess ESM
from ``import`` syntax when no ``package.json`` says otherwise).

Nothing is compiled, so a program that does not parse is recognised by Node's report of a
``SyntaxError`` raised while loading the file (``syntax_error_patterns``), before any test
ran; the engine reports that as ``compile_error``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from typing import Any

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

# Reserved words of ECMAScript (including the ones reserved only in strict mode and in
# modules, which TypeScript always checks as strict) and the names strict mode forbids as
# parameters. Contextual keywords (of, get, set, async, ...) are legal names.
_RESERVED = frozenset(
    "await break case catch class const continue debugger default delete do else enum export "
    "extends false finally for function if implements import in instanceof interface let new "
    "null package private protected public return static super switch this throw true try "
    "typeof var void while with yield arguments eval".split()
)

PACKAGE_JSON = '{"type": "commonjs"}\n'

# Both harnesses pick a union's member by the value's kind (JS has no tagged unions).
_MEMBER_JS = """function __xplMember(t, v) {
  // The member of union t (["union", [T, ...]]) whose kind the value v has.
  return t[1].find((m) => {
    const k = typeof m === "string" ? m : m[0];
    if (k === "int" || k === "float") return typeof v === "number" || typeof v === "bigint";
    if (k === "bool") return typeof v === "boolean";
    if (k === "str") return typeof v === "string";
    if (k === "list" || k === "tuple") return Array.isArray(v);
    if (k === "dict") return v instanceof Map || (v !== null && typeof v === "object" && !Array.isArray(v));
    return false;
  });
}
"""

# The test harness, appended after the candidate. Every name starts with __xpl so it cannot
# clash with the solution's own names, and the global ``process`` is read from globalThis
# because solutions sometimes define a function called ``process``. ``{process}`` is
# replaced by the expression that reaches it (TypeScript needs a cast), ``{declarations}``
# by what the PL declares for the solution (TypeScript: ``require``).
_HARNESS_PRELUDE = """

// ---- xpl test harness ----
{declarations}""" + _MEMBER_JS + """
function __xplClose(a, b) {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (!Number.isFinite(a) || !Number.isFinite(b)) return a === b;
  return Math.abs(a - b) <= Math.max(1e-6 * Math.max(Math.abs(a), Math.abs(b)), 1e-9);
}

// Is the actual value a equal to the expected value b of type t? t describes the type:
// "int" | "float" | "bool" | "str" | "none" | ["list", T] | ["tuple", [T, ...]] |
// ["dict", K, V] | ["opt", T] | ["union", [T, ...]] (the member the expected value is of).
function __xplEqual(t, a, b) {
  if (typeof t === "string") {
    if (t === "int" || t === "float") {
      const x = typeof a === "bigint" ? Number(a) : a;
      if (typeof x !== "number") return false;
      // A non-integral result is a float: compared with tolerance, as Python compares a
      // float with an int.
      return t === "int" && Number.isInteger(x) ? x === b : __xplClose(x, b);
    }
    if (t === "none") return a === undefined || a === null;
    return a === b;
  }
  switch (t[0]) {
    case "opt":
      return b === undefined ? a === undefined || a === null : __xplEqual(t[1], a, b);
    case "union": {
      const m = __xplMember(t, b);
      return m !== undefined && __xplEqual(m, a, b);
    }
    case "list":
    case "tuple": {
      if (!Array.isArray(a) || a.length !== b.length) return false;
      for (let i = 0; i < b.length; i++) {
        if (!__xplEqual(t[0] === "list" ? t[1] : t[1][i], a[i], b[i])) return false;
      }
      return true;
    }
    case "dict": {
      // A plain object (keys are strings) or a Map (keys compared by their string form).
      let entries;
      if (a instanceof Map) {
        entries = Array.from(a, (e) => [String(e[0]), e[1]]);
      } else if (a !== null && typeof a === "object" && !Array.isArray(a)
                 && [Object.prototype, null].includes(Object.getPrototypeOf(a))) {
        entries = Object.keys(a).map((k) => [k, a[k]]);
      } else {
        return false;
      }
      const want = new Map(Object.keys(b).map((k) => [k, b[k]]));
      if (entries.length !== want.size) return false;
      for (const [k, v] of entries) {
        if (!want.has(k) || !__xplEqual(t[2], v, want.get(k))) return false;
        want.delete(k);
      }
      return true;
    }
  }
  return false;
}

function __xplShow(v, depth) {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "bigint") return v + "n";
  if (typeof v === "function") return "[function]";
  if (v === null || typeof v !== "object") return String(v);
  if (depth > 4) return "...";
  let items;
  if (v instanceof Map) {
    items = Array.from(v).slice(0, 20).map((e) => __xplShow(e[0], depth + 1) + " => " + __xplShow(e[1], depth + 1));
  } else if (Array.isArray(v)) {
    items = v.slice(0, 20).map((x) => __xplShow(x, depth + 1));
  } else {
    items = Object.keys(v).slice(0, 20).map((k) => JSON.stringify(k) + ": " + __xplShow(v[k], depth + 1));
  }
  const size = v instanceof Map ? v.size : Array.isArray(v) ? v.length : Object.keys(v).length;
  if (size > 20) items.push("... " + (size - 20) + " more");
  const body = items.join(", ");
  return v instanceof Map ? "Map {" + body + "}" : Array.isArray(v) ? "[" + body + "]" : "{" + body + "}";
}

function __xplRun(type, cases) {
  const proc = {process};
  const nonce = proc.env.XPL_NONCE === undefined ? "-" : proc.env.XPL_NONCE;
  const note = (i, text) => {
    try {
      proc.stderr.write("test " + i + ": " + String(text()).slice(0, 2000) + "\\n");
    } catch (_) {
      proc.stderr.write("test " + i + ": (unprintable)\\n");
    }
  };
  let failed = 0;
  for (let i = 0; i < cases.length; i++) {
    let outcome;
    try {
      const got = cases[i][0]();
      outcome = __xplEqual(type, got, cases[i][1]) ? "pass" : "fail";
      if (outcome === "fail") note(i, () => "expected " + __xplShow(cases[i][1], 0) + ", got " + __xplShow(got, 0));
    } catch (e) {
      outcome = "error";
      note(i, () => (e instanceof Error && e.stack) || __xplShow(e, 0));
    }
    if (outcome !== "pass") failed++;
    // process.stdout writes synchronously to pipes and files on Linux, so nothing is lost at exit.
    proc.stdout.write("\\n@@xpl " + nonce + " " + i + " " + outcome + "\\n");
  }
  proc.stdout.write("\\n@@xpl " + nonce + " done\\n");
  proc.exit(failed ? 1 : 0);
}
"""

# The harness of the value protocol: each result written as JSON, directed by the same type
# descriptor as __xplEqual above and accepting what it would: a bigint is a number, an
# integral number in an int position is written exactly (BigInt), undefined and null are
# None, a dict is a plain object or a Map whose keys are written from their string form (a
# number key only when that form is the number's own). Anything else is {"invalid": ...}.
# Expected ints are the doubles the PL holds (``JavaScript.expected_results``).
_VALUE_PRELUDE = """

// ---- xpl test harness ----
{declarations}""" + _MEMBER_JS + """
function __xplInvalid(v) {
  return '{"invalid":"' + (v === null ? "null" : typeof v) + '"}';
}

function __xplNumber(t, v) {
  const x = typeof v === "bigint" ? Number(v) : v;
  if (typeof x !== "number") return __xplInvalid(v);
  if (Number.isNaN(x)) return '"nan"';
  if (!Number.isFinite(x)) return x > 0 ? '"inf"' : '"-inf"';
  return t === "int" && Number.isInteger(x) ? BigInt(x).toString() : String(x);
}

function __xplKey(t, k) {
  if (t === "str") return JSON.stringify(k);
  const x = Number(k);
  return String(x) === k ? __xplNumber(t, x) : __xplInvalid(k);
}

function __xplJson(t, v) {
  if (typeof t === "string") {
    if (t === "int" || t === "float") return __xplNumber(t, v);
    if (t === "none") return v === undefined || v === null ? "null" : __xplInvalid(v);
    if (t === "bool") return typeof v === "boolean" ? String(v) : __xplInvalid(v);
    return typeof v === "string" ? JSON.stringify(v) : __xplInvalid(v);
  }
  switch (t[0]) {
    case "opt":
      return v === undefined || v === null ? "null" : __xplJson(t[1], v);
    case "union": {
      const m = __xplMember(t, v);
      return m === undefined ? __xplInvalid(v) : __xplJson(m, v);
    }
    case "list":
    case "tuple": {
      if (!Array.isArray(v)) return __xplInvalid(v);
      const items = [];
      for (let i = 0; i < v.length; i++) items.push(__xplJson(t[0] === "list" ? t[1] : t[1][i], v[i]));
      return "[" + items.join(",") + "]";
    }
    case "dict": {
      let entries;
      if (v instanceof Map) {
        entries = Array.from(v, (e) => [String(e[0]), e[1]]);
      } else if (v !== null && typeof v === "object" && !Array.isArray(v)
                 && [Object.prototype, null].includes(Object.getPrototypeOf(v))) {
        entries = Object.keys(v).map((k) => [k, v[k]]);
      } else {
        return __xplInvalid(v);
      }
      return "[" + entries.map((e) => "[" + __xplKey(t[1], e[0]) + "," + __xplJson(t[2], e[1]) + "]").join(",") + "]";
    }
  }
  return __xplInvalid(v);
}

function __xplReport(type, calls) {
  const proc = {process};
  const nonce = proc.env.XPL_NONCE === undefined ? "-" : proc.env.XPL_NONCE;
  for (let i = 0; i < calls.length; i++) {
    let line;
    try {
      line = "value " + __xplJson(type, calls[i]());
    } catch (e) {
      line = "error";
      try {
        proc.stderr.write("test " + i + ": " + String((e instanceof Error && e.stack) || e).slice(0, 2000) + "\\n");
      } catch (_) {
        proc.stderr.write("test " + i + ": (unprintable)\\n");
      }
    }
    // process.stdout writes synchronously to pipes and files on Linux, so nothing is lost at exit.
    proc.stdout.write("\\n@@xpl " + nonce + " " + i + " " + line + "\\n");
  }
  proc.stdout.write("\\n@@xpl " + nonce + " done\\n");
  proc.exit(0);
}
"""


def _doubles(value: Any, typ: Type) -> Any:
    """``value`` with every int replaced by the double a JavaScript number literal of it holds."""
    if value is None:
        return None
    if isinstance(typ, OptionalType):
        return _doubles(value, typ.inner)
    if isinstance(typ, UnionType):
        return _doubles(value, union_member(typ, value))
    if isinstance(typ, IntType):
        return int(float(value))
    if isinstance(typ, ListType):
        return [_doubles(v, typ.elem) for v in value]
    if isinstance(typ, TupleType):
        return tuple(_doubles(v, t) for v, t in zip(value, typ.elems))
    if isinstance(typ, DictType):
        return {_doubles(k, typ.key): _doubles(v, typ.value) for k, v in value.items()}
    return value


class JavaScript(Language):
    name = "javascript"
    display_name = "JavaScript"
    aliases = ("js", "javascript", "node")
    extension = "js"
    tools = (("node", ("node", "nodejs"), ("--version",)),)
    apt_packages = ("nodejs",)
    install_hint = "install Node.js >= 16 (`apt-get install nodejs`, or from nodejs.org)"
    # A parse error of the program itself: Node reports a SyntaxError whose first stack frame
    # is its own module loader (node:internal/...). A SyntaxError thrown while the program
    # runs (JSON.parse, new RegExp, eval) has a first frame in the program or <anonymous>.
    syntax_error_patterns = (r"^SyntaxError: .*\n\s+at .*\(?(node:)?internal/",)
    assertion_patterns = (r"^AssertionError\b",)
    # V8's fatal reports (heap limit reached, a failed mmap under RLIMIT_DATA, an array
    # beyond V8's maximum size) and uncaught native allocation failures. Anchored at line
    # starts: the harness prints caught errors after "test <i>: ", never as these lines.
    memory_error_patterns = (
        r"^FATAL ERROR: .*(Allocation failed|out of memory)",
        r"^# Fatal (process out of memory|JavaScript OOM|JavaScript invalid size error)",
        r"^terminate called after throwing an instance of 'std::bad_alloc'",
        r"^RangeError: Array buffer allocation failed",
    )
    # MultiPL-E's stop sequences plus "\n}": the function's closing brace ends the completion
    # and ``completion_suffix`` puts it back.
    stop_sequences = ("\n}", "\nfunction ", "\n/*", "\n//", "\nconsole.log")
    completion_suffix = "}\n"
    return_template = "  return {};\n"
    comment_prefix = "//"
    reserved_words = _RESERVED
    float_specials = ("NaN", "Infinity", "-Infinity")

    def refine_toolchain(self, paths: dict[str, str]) -> tuple[dict[str, str], list[str]]:
        # Version managers (asdf, nodenv, volta) put shims on PATH that need their own home
        # directories to work: ask Node itself where its binary is.
        out = _command_output([paths["node"], "-p", "process.execPath"])
        if not out:
            raise ToolchainMissing(f"{self.display_name}: {paths['node']} did not run")
        return {**paths, "node": os.path.realpath(out)}, []

    # ----------------------------------------------------------------- building
    def plan_single(self, source: str, tc: Toolchain) -> BuildPlan:
        run = RunSpec([tc.tool("node"), f"{BUILD}/main.js"])
        return BuildPlan({"main.js": source, "package.json": PACKAGE_JSON}, [], [run], {"main.js": 0})

    def plan_batch(self, sources: Sequence[str], tc: Toolchain) -> BuildPlan:
        # Nothing to compile: each program keeps the name main.js in a directory of its own
        # (so stack traces read as in a single run), under one shared package.json.
        node = tc.tool("node")
        files = {"package.json": PACKAGE_JSON}
        runs, owners = [], {}
        for i, src in enumerate(sources):
            files[f"c{i}/main.js"] = src
            owners[f"c{i}/main.js"] = i
            runs.append(RunSpec([node, f"{BUILD}/c{i}/main.js"]))
        return BuildPlan(files, [], runs, owners)

    def run_env(self, tc: Toolchain, memory_mb: int) -> dict[str, str]:
        # The engine caps the data segment (RLIMIT_DATA). Left alone, V8 sizes its heap from
        # the machine's RAM and dies of a failed mmap (std::bad_alloc, "Committing semi space
        # failed") when it hits the cap; a heap limit of 3/4 of it makes V8 fail first, with
        # its ordinary "JavaScript heap out of memory", leaving room for code, stacks and
        # native buffers.
        if memory_mb <= 0:
            return {}
        return {"NODE_OPTIONS": f"--max-old-space-size={max(16, memory_mb * 3 // 4)}"}

    # ----------------------------------------------------------------- rendering
    def render_type(self, typ: Type) -> str:
        """TypeScript syntax, which is also what JSDoc comments use for JavaScript."""
        if isinstance(typ, (IntType, FloatType)):
            return "number"
        if isinstance(typ, BoolType):
            return "boolean"
        if isinstance(typ, StrType):
            return "string"
        if isinstance(typ, NoneType):
            return "undefined"
        if isinstance(typ, ListType):
            elem = self.render_type(typ.elem)
            return f"({elem})[]" if isinstance(typ.elem, (OptionalType, UnionType)) else f"{elem}[]"
        if isinstance(typ, TupleType):
            return "[" + ", ".join(self.render_type(e) for e in typ.elems) + "]"
        if isinstance(typ, DictType):
            return f"{{[key: {self._key_type(typ.key)}]: {self.render_type(typ.value)}}}"
        if isinstance(typ, OptionalType):
            return f"{self.render_type(typ.inner)} | undefined"
        if isinstance(typ, UnionType):
            # ints and floats are both number: written once
            return " | ".join(dict.fromkeys(self.render_type(m) for m in typ.members))
        if isinstance(typ, AnyType):
            return "any"
        raise self.unsupported(f"type {typ!r}")

    def _key_type(self, key: Type) -> str:
        if isinstance(key, (IntType, FloatType)):
            return "number"
        if isinstance(key, StrType):
            return "string"
        raise self.unsupported(
            f"dict keys of type {key.annotation()}: object keys are strings, so only str and number keys round-trip"
        )

    def render_value(self, value: Any, typ: Type) -> str:
        if isinstance(typ, OptionalType):
            return "undefined" if value is None else self.render_value(value, typ.inner)
        if isinstance(typ, UnionType):
            return self.render_value(value, union_member(typ, value))
        if isinstance(typ, AnyType):
            return self.render_value(value, dynamic_type(value))
        if isinstance(typ, NoneType):
            return "undefined"
        if isinstance(typ, BoolType):
            return "true" if value else "false"
        if isinstance(typ, IntType):
            self.check_int(value)
            return str(int(value))
        if isinstance(typ, FloatType):
            return self.float_literal(value)
        if isinstance(typ, StrType):
            return _string(value)
        if isinstance(typ, ListType):
            return "[" + ", ".join(self.render_value(v, typ.elem) for v in value) + "]"
        if isinstance(typ, TupleType):
            return "[" + ", ".join(self.render_value(v, t) for v, t in zip(value, typ.elems)) + "]"
        if isinstance(typ, DictType):
            self._key_type(typ.key)
            items = [f"{self._key(k, typ.key)}: {self.render_value(v, typ.value)}" for k, v in value.items()]
            return "{" + ", ".join(items) + "}"
        raise self.unsupported(f"value {value!r} of type {typ!r}")

    def _key(self, key: Any, typ: Type) -> str:
        """An object-literal property name for ``key`` (whose property is ``String(key)``)."""
        if isinstance(typ, StrType):
            # "__proto__": v would set the prototype instead of creating a property.
            return f"[{_string(key)}]" if key == "__proto__" else _string(key)
        if isinstance(typ, IntType) and key >= 0:
            self.check_int(key)
            return str(key)
        # Negative numbers, fractions, NaN and infinities are computed property names.
        return f"[{self.render_value(key, typ)}]"

    def _descriptor(self, typ: Type) -> Any:
        """The harness's description of a type (JSON), directing its deep equality."""
        if isinstance(typ, IntType):
            return "int"
        if isinstance(typ, FloatType):
            return "float"
        if isinstance(typ, BoolType):
            return "bool"
        if isinstance(typ, StrType):
            return "str"
        if isinstance(typ, NoneType):
            return "none"
        if isinstance(typ, ListType):
            return ["list", self._descriptor(typ.elem)]
        if isinstance(typ, TupleType):
            return ["tuple", [self._descriptor(e) for e in typ.elems]]
        if isinstance(typ, DictType):
            return ["dict", self._descriptor(typ.key), self._descriptor(typ.value)]
        if isinstance(typ, OptionalType):
            return ["opt", self._descriptor(typ.inner)]
        if isinstance(typ, UnionType):
            return ["union", [self._descriptor(m) for m in typ.members]]
        raise self.unsupported(f"type {typ!r} as a result")

    def _doc(self, docstring: str) -> str:
        doc = docstring.strip("\n")
        return self.comment(doc) if doc.strip() else ""

    def split_reply(self, code: str, sig: Signature) -> tuple[list[str], str]:
        # The program runs as a script: `export` (an ES-module keyword) is dropped from the
        # reply's declarations.
        return [], re.sub(r"^(\s*)export\s+(?:default\s+)?(?=(?:async\s+)?function|const|let|var|class)", r"\1", code, flags=re.MULTILINE)

    def prompt(self, sig: Signature, docstring: str) -> str:
        for t in sig.types():  # refuse what the harness could not compare faithfully
            self.render_type(t)
        params = ", ".join(self.identifier(p.name) for p in sig.params)
        return self._doc(docstring) + f"function {self.identifier(sig.name)}({params}){{\n"

    def _process_expr(self) -> str:
        return "globalThis.process"

    def _declarations(self) -> str:
        return ""

    def harness(self, sig: Signature, tests: Sequence[TestCase]) -> str:
        self.refuse_any_result(sig)
        fn = self.identifier(sig.name)
        rows = []
        for t in tests:
            args = ", ".join(self.render_value(a, p.type) for a, p in zip(t.args, sig.params))
            rows.append(f"  () => {fn}({args}),\n")
        return (
            _VALUE_PRELUDE.replace("{process}", self._process_expr()).replace("{declarations}", self._declarations())
            + f"\n__xplReport({json.dumps(self._descriptor(sig.returns))}, [\n"
            + "".join(rows)
            + "]);\n"
        )

    def expected_results(self, sig: Signature, tests: Sequence[TestCase]):
        # An int literal beyond 2**53 holds the nearest double (as the self-checking harness's
        # expected literal did), so that is what a correct function returns.
        return super().expected_results(sig, [TestCase(t.args, _doubles(t.expected, sig.returns)) for t in tests])

    def check_harness(self, sig: Signature, tests: Sequence[TestCase]) -> str:
        self.refuse_any_result(sig)
        fn = self.identifier(sig.name)
        rows = []
        for t in tests:
            args = ", ".join(self.render_value(a, p.type) for a, p in zip(t.args, sig.params))
            rows.append(f"  [() => {fn}({args}), {self.render_value(t.expected, sig.returns)}],\n")
        return (
            _HARNESS_PRELUDE.replace("{process}", self._process_expr()).replace("{declarations}", self._declarations())
            + f"\n__xplRun({json.dumps(self._descriptor(sig.returns))}, [\n"
            + "".join(rows)
            + "]);\n"
        )




def _string(s: str) -> str:
    # Everything outside printable ASCII as \\u{...} (code points, so astral characters
    # stay one escape); double quotes need no care for ${...} interpolation.
    return escape_string(s, '"')
