"""Java 17 (OpenJDK).

Problems are written the way MultiPL-E writes them: the standard imports, ``class Problem``
and a ``public static`` method inside it; the harness adds ``main`` and closes the class.
Types follow MultiPL-E too (``long``, ``ArrayList<T>``, ``HashMap<K, V>``, ``Optional<T>``),
except that floats are ``double`` rather than MultiPL-E's ``float`` (this project's floats are
64-bit everywhere) and tuples are small generic records declared in the prompt
(``record Pair<A, B>(A first, B second) {}``), because MultiPL-E's ``org.javatuples`` is not
part of the JDK. The records are top-level types of the program's own file, so the prompt
shows the model exactly what it may use.

Building: ``javac`` then ``java -cp out Main`` (MultiPL-E compiles and runs the same way).
Programs run with ``-ea`` (asserts on, as in MultiPL-E), a serial GC and the C1 JIT only
(``-XX:TieredStopAtLevel=1``), which start fastest and need the fewest threads; heap, stack
and metaspace sizes come from the job's memory limit (``run_env``, see there).

Batching: ONE ``javac`` call compiles every candidate. Candidate N is written to
``cN/<Type>.java`` with ``package cN;`` prepended to its first line (so line numbers stay the
candidate's own and diagnostics name ``cN/...``) and runs as ``java -cp out cN.<MainClass>``,
still one JVM per candidate. Known differences from a standalone build, none visible to the
harness: class names carry the ``cN.`` prefix (``getClass().getName()``, the default
``toString`` of candidate-defined classes, stack traces), and ``Class.forName("Problem")``
would not find the class. A candidate that declares its own ``package`` fails the batch with
an error in its own file, so the engine's blame-and-retry compiles it alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xpl.languages.chat import hoist_lines, make_static, remove_method, unwrap_classes

from xpl.languages.base import (
    BUILD,
    BuildPlan,
    Language,
    RunSpec,
    Toolchain,
    ToolchainMissing,
    _command_output,
    escape_string,
    utf16_escape,
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
    union_member,
)

# Keywords, literals and restricted identifiers of Java 17. ``var``/``yield``/``record``/
# ``sealed``/``permits`` are legal as parameter names in most positions, but renaming them
# costs nothing and avoids the contexts where they are not.
_KEYWORDS = frozenset(
    "abstract assert boolean break byte case catch char class const continue default do double else "
    "enum extends final finally float for goto if implements import instanceof int interface long "
    "native new package private protected public return short static strictfp super switch "
    "synchronized this throw throws transient try void volatile while true false null _ var yield "
    "record sealed permits".split()
)

# MultiPL-E's imports, minus org.javatuples (not in the JDK; see the records below).
_IMPORTS = ("java.util.*", "java.lang.reflect.*", "java.security.*", "java.math.*", "java.io.*", "java.util.stream.*")

CLASS_NAME = "Problem"

# Tuples of each arity are generic records with named components; the prompt declares the ones
# its signature uses. Arities outside this table are reported as unsupported.
_TUPLE_RECORDS = {1: "Single", 2: "Pair", 3: "Triple", 4: "Quadruple", 5: "Quintuple", 6: "Sextuple"}
_COMPONENTS = ("first", "second", "third", "fourth", "fifth", "sixth")
_TYPE_VARS = ("A", "B", "C", "D", "E", "F")

# javac: sources are UTF-8 whatever the locale; warnings are noise for generated code; no
# annotation processing (nothing to discover, and scanning the class path costs time). For
# blame to name every broken candidate of a batch in one pass: report all errors, not the first
# 100, and go on to type-check after syntax errors (by default javac stops at the first phase
# with errors, so type errors of other candidates would surface one rebuild later; the
# candidates are separate packages, so one's syntax error cannot cause errors in another's).
# The compiler's own JVM: serial GC and C1 only use the least CPU on short runs, and a bounded
# heap keeps it inside the engine's RLIMIT_DATA for compiles however much RAM the host has.
_JAVAC_FLAGS = (
    "-encoding", "UTF-8", "-nowarn", "-proc:none", "-Xmaxerrs", "100000", "-XDshould-stop.ifError=FLOW",
    "-J-XX:+UseSerialGC", "-J-XX:TieredStopAtLevel=1", "-J-XX:-UsePerfData", "-J-Xshare:auto",
    "-J-Xms64m", "-J-Xmx2g",
)  # fmt: skip

# Runtime flags that do not depend on the memory limit. The serial GC and a single C1 compiler
# thread keep the JVM at ~13 threads whatever the host's core count (the engine limits each
# program's processes and threads with RLIMIT_NPROC). -XX:-UsePerfData: no hsperfdata file in
# /tmp (not writable in the sandbox; skipping it also saves start-up time).
_JAVA_FLAGS = (
    "-ea", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:CICompilerCount=1", "-Xshare:auto", "-XX:-UsePerfData",
)  # fmt: skip

# Memory layout under RLIMIT_DATA (which counts every writable private mapping: thread stacks
# and metaspace as well as the heap). Measured on OpenJDK 17: with these stack and
# metaspace settings a JVM needs ~110 MiB besides its heap, so the heap gets 75% of the limit
# but always leaves at least _NON_HEAP_MB for the rest.
_STACK_MB = 8  # per Java thread (-Xss); the main thread's is what recursion depth depends on
_METASPACE_MB = 64
_NON_HEAP_MB = 192
_MIN_HEAP_MB = 16

# JDK_JAVA_OPTIONS is read by the `java` launcher only (never by javac), which makes it the
# place for the per-job flags; the launcher notes on stderr that it picked them up.
_OPTIONS_ENV = "JDK_JAVA_OPTIONS"


class Java(Language):
    name = "java"
    display_name = "Java"
    aliases = ("java",)
    extension = "java"
    compiled = True
    # javac's version names the JDK; programs run on that JDK's own `java` (refine_toolchain).
    tools = (("javac", ("javac",), ("-version",)), ("java", ("java",), ()))
    apt_packages = ("openjdk-17-jdk-headless",)
    batch_size = 64
    assertion_patterns = (r"^Exception in thread \S+ java\.lang\.AssertionError\b",)
    memory_error_patterns = (
        # "unable to create native thread" is the process/thread limit (a fork bomb), not memory.
        r"java\.lang\.OutOfMemoryError(?!: unable to create native thread)",
        r"^# There is insufficient memory for the Java Runtime Environment",
        r"Could not reserve enough space for",
    )
    stop_sequences = ("\n    }\n",)
    completion_suffix = "\n    }\n"
    return_template = "        return {};\n"
    comment_prefix = "//"
    reserved_words = _KEYWORDS
    float_specials = ("Double.NaN", "Double.POSITIVE_INFINITY", "Double.NEGATIVE_INFINITY")

    # ----------------------------------------------------------------- toolchain
    def refine_toolchain(self, paths: dict[str, str]) -> tuple[dict[str, str], list[str]]:
        # Run classes with the JVM of the JDK that compiled them: a `java` earlier on PATH
        # from an older JRE would reject newer class files.
        sibling = Path(paths["javac"]).with_name("java")
        if sibling.is_file():
            paths = {**paths, "java": str(sibling)}
        out = _command_output([paths["javac"], "-version"]) or ""
        m = re.search(r"javac (\d+)", out)
        if m is None or int(m.group(1)) < 17:
            raise ToolchainMissing(f"Java: {paths['javac']} reports {out!r}; JDK 17 or newer is required (records)")
        return paths, []

    # ----------------------------------------------------------------- building
    def plan_single(self, source: str, tc: Toolchain) -> BuildPlan:
        unit = _scan(source)
        path = f"{unit.file_type}.java"
        main = f"{unit.package}.{unit.main_type}" if unit.package else unit.main_type
        return BuildPlan(
            files={path: source},
            commands=[[tc.tool("javac"), *_JAVAC_FLAGS, "-d", "out", path]],
            runs=[RunSpec([tc.tool("java"), *_JAVA_FLAGS, "-cp", f"{BUILD}/out", main])],
            owners={path: 0},
        )

    def plan_batch(self, sources: Sequence[str], tc: Toolchain) -> BuildPlan:
        files: dict[str, str] = {}
        runs: list[RunSpec] = []
        owners: dict[str, int] = {}
        for i, src in enumerate(sources):
            unit = _scan(src)
            package = f"c{i}"
            path = f"{package}/{unit.file_type}.java"
            files[path] = f"package {package}; " + src  # same line: line numbers unchanged
            owners[path] = i
            runs.append(RunSpec([tc.tool("java"), *_JAVA_FLAGS, "-cp", f"{BUILD}/out", f"{package}.{unit.main_type}"]))
        command = [tc.tool("javac"), *_JAVAC_FLAGS, "-d", "out", *files]
        return BuildPlan(files, [command] if files else [], runs, owners)

    def batch_failure_is_final(self, sources: Sequence[str], index: int) -> bool:
        # Each candidate is its own package, so nothing of another file can reach it; the only
        # thing the wrapping changes is the package line, which a program that declares its
        # own package would clash with.
        return not _scan(sources[index]).package

    def run_env(self, tc: Toolchain, memory_mb: int) -> dict[str, str]:
        heap = max(_MIN_HEAP_MB, min(memory_mb * 3 // 4, memory_mb - _NON_HEAP_MB))
        flags = [
            f"-Xmx{heap}m",
            f"-Xss{_STACK_MB}m",
            f"-XX:MaxMetaspaceSize={_METASPACE_MB}m",
            f"-XX:CompressedClassSpaceSize={_METASPACE_MB // 2}m",
        ]
        return {_OPTIONS_ENV: " ".join(flags)}

    # ----------------------------------------------------------------- rendering
    def render_type(self, typ: Type) -> str:
        if isinstance(typ, IntType):
            return "long"
        if isinstance(typ, FloatType):
            return "double"
        if isinstance(typ, BoolType):
            return "boolean"
        if isinstance(typ, NoneType):
            return "void"
        return self._boxed(typ)

    def _boxed(self, typ: Type) -> str:
        """The type as a reference type (usable as a type argument)."""
        if isinstance(typ, IntType):
            return "Long"
        if isinstance(typ, FloatType):
            return "Double"
        if isinstance(typ, BoolType):
            return "Boolean"
        if isinstance(typ, StrType):
            return "String"
        if isinstance(typ, ListType):
            return f"ArrayList<{self._boxed(typ.elem)}>"
        if isinstance(typ, DictType):
            return f"HashMap<{self._boxed(typ.key)}, {self._boxed(typ.value)}>"
        if isinstance(typ, OptionalType):
            return f"Optional<{self._boxed(typ.inner)}>"
        if isinstance(typ, TupleType):
            return f"{self._record(len(typ.elems))}<{', '.join(self._boxed(e) for e in typ.elems)}>"
        if isinstance(typ, UnionType):
            for m in typ.members:
                self._boxed(m)
            return "Object"  # the member is the value's class (Long, String, ArrayList...)
        if isinstance(typ, AnyType):
            return "Object"
        if isinstance(typ, NoneType):
            raise self.unsupported("None is only supported as a return type (void)")
        raise self.unsupported(f"type {typ!r}")

    def _record(self, arity: int) -> str:
        """The name of the record that stands for tuples of ``arity`` elements."""
        if arity not in _TUPLE_RECORDS:
            raise self.unsupported(f"tuples of {arity} elements (supported: 1 to {max(_TUPLE_RECORDS)})")
        return _TUPLE_RECORDS[arity]

    def supports(self, sig: Signature) -> str | None:
        reason = super().supports(sig)
        if reason is None and any(isinstance(p.type, NoneType) for p in sig.params):
            return "None is only supported as a return type (void)"
        return reason

    def render_value(self, value: Any, typ: Type) -> str:
        if isinstance(typ, OptionalType):
            return "Optional.empty()" if value is None else f"Optional.of({self.render_value(value, typ.inner)})"
        if isinstance(typ, UnionType):
            return self.render_value(value, union_member(typ, value))  # boxed where an Object is wanted
        if isinstance(typ, AnyType):
            return self.render_value(value, dynamic_type(value))
        if isinstance(typ, IntType):
            self.check_int(value)
            # The literal 9223372036854775808L exists only as the operand of a unary minus;
            # the named constant says what is meant.
            return "Long.MIN_VALUE" if value == INT_MIN else f"{int(value)}L"
        if isinstance(typ, FloatType):
            return self.float_literal(value)  # Python's shortest round-trip form is a valid Java double literal
        if isinstance(typ, BoolType):
            return "true" if value else "false"
        if isinstance(typ, StrType):
            # Non-ASCII as \uXXXX UTF-16 units. Java translates \u escapes before lexing, so a
            # newline, quote or backslash must use its ordinary escape, as the table does.
            return escape_string(value, unicode=utf16_escape())
        if isinstance(typ, ListType):
            elem = self._boxed(typ.elem)
            if not value:
                return f"new ArrayList<{elem}>()"
            items = ", ".join(self.render_value(v, typ.elem) for v in value)
            return f"new ArrayList<{elem}>(Arrays.<{elem}>asList({items}))"
        if isinstance(typ, DictType):
            k, v = self._boxed(typ.key), self._boxed(typ.value)
            if not value:
                return f"new HashMap<{k}, {v}>()"
            entries = ", ".join(
                f"Map.<{k}, {v}>entry({self.render_value(key, typ.key)}, {self.render_value(val, typ.value)})"
                for key, val in value.items()
            )
            return f"new HashMap<{k}, {v}>(Map.<{k}, {v}>ofEntries({entries}))"
        if isinstance(typ, TupleType):
            items = ", ".join(self.render_value(v, t) for v, t in zip(value, typ.elems))
            return f"new {self._boxed(typ)}({items})"
        if isinstance(typ, NoneType):
            raise self.unsupported("None is only supported as a return type (void)")
        raise self.unsupported(f"value {value!r} of type {typ!r}")

    def _tuple_arities(self, sig: Signature) -> list[int]:
        return sorted({len(t.elems) for top in sig.types() for t in top.walk() if isinstance(t, TupleType)})

    def split_reply(self, code: str, sig: Signature) -> tuple[list[str], str]:
        # The header declares the harness's class; a reply that wrote its own class gives its
        # members to it (unwrapped), its imports go first, its main method goes, and methods
        # declared without `static` get it (the harness calls them from static code).
        imports, code = hoist_lines(code, r"import\s+[\w.*]+\s*;")
        _, code = hoist_lines(code, r"package\s+[\w.]+\s*;")
        code = remove_method(unwrap_classes(code), r"^[ \t]*(?:public\s+)?static\s+void\s+main\s*\([^)]*\)[^{]*")
        return imports, make_static(code)

    def prompt(self, sig: Signature, docstring: str) -> str:
        params = ", ".join(f"{self.render_type(p.type)} {self.identifier(p.name)}" for p in sig.params)
        head = "".join(f"import {m};\n" for m in _IMPORTS)
        for n in self._tuple_arities(sig):
            fields = ", ".join(f"{_TYPE_VARS[j]} {_COMPONENTS[j]}" for j in range(n))
            head += f"record {self._record(n)}<{', '.join(_TYPE_VARS[:n])}>({fields}) {{}}\n"
        head += f"class {CLASS_NAME} {{\n"
        if docstring.strip():
            head += self.comment(_defuse_unicode_escapes(docstring), "    ")
        name = self.identifier(sig.name)
        return head + f"    public static {self.render_type(sig.returns)} {name}({params}) {{\n"

    def harness(self, sig: Signature, tests: Sequence[TestCase]) -> str:
        self.refuse_any_result(sig)
        name = self.identifier(sig.name)
        out = [_JSON_HEAD]
        for n in self._tuple_arities(sig):
            rec = _TUPLE_RECORDS[n]
            parts = "\n            o.append(',');\n            ".join(f"__xplJson(o, x.{c}());" for c in _COMPONENTS[:n])
            out.append(
                f"        if (v instanceof {rec}<{', '.join('?' * n)}> x) {{\n"
                f"            o.append('[');\n            {parts}\n            o.append(']');\n            return;\n        }}\n"
            )
        out.append(_JSON_TAIL)
        for i, t in enumerate(tests):
            args = ", ".join(self.render_value(a, p.type) for a, p in zip(t.args, sig.params))
            call = f"{name}({args})"
            body = f"        {call};\n        return __XPL_VOID;\n" if isinstance(sig.returns, NoneType) else f"        return {call};\n"
            # One method per test: a method's bytecode is limited to 64 KiB.
            out.append(f"    private static Object __xplCall{i}() {{\n{body}    }}\n")
        cases = "".join(f"            case {i}: return __xplCall{i}();\n" for i in range(len(tests)))
        out.append(
            "    private static Object __xplCall(int i) {\n"
            "        switch (i) {\n" + cases + "            default: throw new IllegalArgumentException();\n"
            "        }\n    }\n"
        )
        out.append(_REPORT_MAIN.replace("__XPL_COUNT__", str(len(tests))))
        out.append("}\n")
        return "".join(out)

    def check_harness(self, sig: Signature, tests: Sequence[TestCase]) -> str:
        self.refuse_any_result(sig)
        name = self.identifier(sig.name)
        out = [_EQUALITY_HEAD]
        for n in self._tuple_arities(sig):
            rec = _TUPLE_RECORDS[n]
            wild = ", ".join("?" * n)
            same = " && ".join(f"__xplEq(x.{c}(), y.{c}())" for c in _COMPONENTS[:n])
            out.append(f"        if (a instanceof {rec}<{wild}> x && b instanceof {rec}<{wild}> y) return {same};\n")
        out.append(_EQUALITY_TAIL)
        for i, t in enumerate(tests):
            args = ", ".join(self.render_value(a, p.type) for a, p in zip(t.args, sig.params))
            call = f"{name}({args})"
            if isinstance(sig.returns, NoneType):
                body = f"        {call};\n        return true;\n"
            else:
                body = f"        return __xplEq({call}, {self.render_value(t.expected, sig.returns)});\n"
            # One method per test: a method's bytecode is limited to 64 KiB, so large test
            # values must not all land in main.
            out.append(f"    private static boolean __xplTest{i}() {{\n{body}    }}\n")
        cases = "".join(f"            case {i}: return __xplTest{i}();\n" for i in range(len(tests)))
        out.append(
            "    private static boolean __xplTest(int i) {\n"
            "        switch (i) {\n" + cases + "            default: throw new IllegalArgumentException();\n"
            "        }\n    }\n"
        )
        out.append(_MAIN.replace("__XPL_COUNT__", str(len(tests))))
        out.append("}\n")
        return "".join(out)


# Deep equality mirroring ``xpl.languages.types.values_equal`` for the types above; the harness
# inserts one line per tuple record between head and tail. Library types are spelled out in
# full so that the helpers do not depend on the prompt's imports. No string concatenation with `+`
# (javac compiles it to invokedynamic, whose first use costs tens of milliseconds).
_EQUALITY_HEAD = """\
    private static boolean __xplClose(double a, double b) {
        if (Double.isNaN(a) || Double.isNaN(b)) return Double.isNaN(a) && Double.isNaN(b);
        if (Double.isInfinite(a) || Double.isInfinite(b)) return a == b;
        return Math.abs(a - b) <= Math.max(1e-6 * Math.max(Math.abs(a), Math.abs(b)), 1e-9);
    }
    private static boolean __xplEq(Object a, Object b) {
        if (a == null || b == null) return a == b;
        if (a instanceof Double x && b instanceof Double y) return __xplClose(x, y);
        if (a instanceof java.util.List<?> x && b instanceof java.util.List<?> y) {
            if (x.size() != y.size()) return false;
            java.util.Iterator<?> i = x.iterator(), j = y.iterator();
            while (i.hasNext()) if (!__xplEq(i.next(), j.next())) return false;
            return true;
        }
        if (a instanceof java.util.Map<?, ?> x && b instanceof java.util.Map<?, ?> y) {
            if (x.size() != y.size()) return false;
            for (java.util.Map.Entry<?, ?> e : x.entrySet()) {
                if (!y.containsKey(e.getKey()) || !__xplEq(e.getValue(), y.get(e.getKey()))) return false;
            }
            return true;
        }
        if (a instanceof java.util.Optional<?> x && b instanceof java.util.Optional<?> y) {
            return x.isPresent() ? y.isPresent() && __xplEq(x.get(), y.get()) : y.isEmpty();
        }
"""

_EQUALITY_TAIL = """\
        return a.getClass() == b.getClass() && a.equals(b);
    }
"""

_MAIN = """\
    private static void __xplEmit(String s) {
        System.out.print(s);
        System.out.flush();
    }
    public static void main(String[] args) {
        String nonce = System.getenv("XPL_NONCE");
        if (nonce == null) nonce = "-";
        int failed = 0;
        for (int i = 0; i < __XPL_COUNT__; i++) {
            String outcome;
            try {
                outcome = __xplTest(i) ? "pass" : "fail";
            } catch (Throwable e) {  // StackOverflowError and OutOfMemoryError included
                outcome = "error";
                String what = String.valueOf(e);
                if (what.length() > 2000) what = what.substring(0, 2000);
                System.err.println("test ".concat(String.valueOf(i)).concat(": ").concat(what));
            }
            if (!outcome.equals("pass")) failed++;
            __xplEmit("\\n@@xpl ".concat(nonce).concat(" ").concat(String.valueOf(i)).concat(" ")
                .concat(outcome).concat("\\n"));
        }
        __xplEmit("\\n@@xpl ".concat(nonce).concat(" done\\n"));
        System.exit(failed == 0 ? 0 : 1);
    }
"""


# The harness of the value protocol: each result written as JSON by __xplJson, which takes
# the classes a result of the types above has (Long, Double, Boolean, String, List, Map,
# Optional, the tuple records: the harness inserts one line per record between head and tail;
# and Integer, Short, Byte and Float, which a method returning a union's Object can box)
# and writes {"invalid": ...} for anything else, null references included (the comparison
# above never equates them with a value). Strings are written as ASCII, UTF-16 units beyond
# it as \uXXXX escapes. As above, no string concatenation with `+`.
_JSON_HEAD = """\
    private static final Object __XPL_VOID = new Object();
    private static void __xplString(StringBuilder o, String s) {
        o.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\\\') o.append('\\\\').append(c);
            else if (c < 0x20 || c > 0x7e) o.append(String.format("\\\\u%04x", (int) c));
            else o.append(c);
        }
        o.append('"');
    }
    private static void __xplJson(StringBuilder o, Object v) {
        if (v == __XPL_VOID) { o.append("null"); return; }
        if (v instanceof Long x) { o.append(x.longValue()); return; }
        // A method returning Object (a union) may box an int literal as Integer, a float as Float.
        if (v instanceof Integer || v instanceof Short || v instanceof Byte) { o.append(((Number) v).longValue()); return; }
        if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            if (Double.isNaN(d)) o.append("\\"nan\\"");
            else if (Double.isInfinite(d)) o.append(d > 0 ? "\\"inf\\"" : "\\"-inf\\"");
            else o.append(Double.toString(d));
            return;
        }
        if (v instanceof Boolean x) { o.append(x.booleanValue()); return; }
        if (v instanceof String x) { __xplString(o, x); return; }
        if (v instanceof java.util.List<?> x) {
            o.append('[');
            boolean first = true;
            for (Object e : x) {
                if (!first) o.append(',');
                first = false;
                __xplJson(o, e);
            }
            o.append(']');
            return;
        }
        if (v instanceof java.util.Map<?, ?> x) {
            o.append('[');
            boolean first = true;
            for (java.util.Map.Entry<?, ?> e : x.entrySet()) {
                o.append(first ? "[" : ",[");
                first = false;
                __xplJson(o, e.getKey());
                o.append(',');
                __xplJson(o, e.getValue());
                o.append(']');
            }
            o.append(']');
            return;
        }
        if (v instanceof java.util.Optional<?> x) {
            if (x.isPresent()) __xplJson(o, x.get()); else o.append("null");
            return;
        }
"""

_JSON_TAIL = """\
        o.append("{\\"invalid\\":\\"").append(v == null ? "null" : v.getClass().getSimpleName().replaceAll("[^A-Za-z0-9]", "")).append("\\"}");
    }
"""

_REPORT_MAIN = """\
    private static void __xplEmit(String s) {
        System.out.print(s);
        System.out.flush();
    }
    public static void main(String[] args) {
        String nonce = System.getenv("XPL_NONCE");
        if (nonce == null) nonce = "-";
        for (int i = 0; i < __XPL_COUNT__; i++) {
            String line;
            try {
                StringBuilder o = new StringBuilder("value ");
                __xplJson(o, __xplCall(i));
                line = o.toString();
            } catch (Throwable e) {  // StackOverflowError and OutOfMemoryError included
                line = "error";
                String what = String.valueOf(e);
                if (what.length() > 2000) what = what.substring(0, 2000);
                System.err.println("test ".concat(String.valueOf(i)).concat(": ").concat(what));
            }
            __xplEmit("\\n@@xpl ".concat(nonce).concat(" ").concat(String.valueOf(i)).concat(" ")
                .concat(line).concat("\\n"));
        }
        __xplEmit("\\n@@xpl ".concat(nonce).concat(" done\\n"));
        System.exit(0);
    }
"""


def _defuse_unicode_escapes(text: str) -> str:
    """Keep ``\\u`` in a comment from being read as a Unicode escape.

    Java translates ``\\uXXXX`` everywhere in a source file, comments included, before
    lexing: ``\\u000a`` ends a comment line and ``\\user`` is a compile error. A backslash
    preceded by an odd number of backslashes cannot start an escape, so doubling the last
    backslash of each odd run before ``u`` defuses it.
    """
    return re.sub(r"(\\+)(?=u)", lambda m: m.group(1) + "\\" * (len(m.group(1)) % 2), text)


class _Unit:
    """What the build needs to know about a compilation unit."""

    def __init__(self, package: str, public_type: str | None, main_type: str | None, first_type: str | None):
        self.package = package
        # A public top-level type must live in <Name>.java; otherwise the name is free.
        self.file_type = public_type or main_type or first_type or CLASS_NAME
        # The launcher needs the class that declares main; without one the launcher's own
        # "Main method not found" error is the natural outcome.
        self.main_type = main_type or public_type or first_type or CLASS_NAME


_TOKENS = re.compile(
    r'"""[\s\S]*?"""'  # text block
    r'|"(?:\\.|[^"\\\n])*"'  # string literal
    r"|'(?:\\.|[^'\\\n])*'"  # char literal
    r"|//[^\n]*"
    r"|/\*[\s\S]*?\*/"
    r"|[A-Za-z_$][\w$]*(?:\s*\.\s*[A-Za-z_$][\w$]*)*"  # (qualified) identifier
    r"|[{}();]"
)
_PUNCTUATION = frozenset("{}();")


def _scan(source: str) -> _Unit:
    """Find the package, the public top-level type and the top-level type declaring ``main``.

    A light tokenizer (comments and literals skipped, braces counted) rather than a parser:
    it only has to be right for programs that compile, and since the single and the batch
    plan use the same result, batching never changes which class a program runs as.
    """
    package = ""
    public_type = main_type = first_type = None
    depth = 0
    words: list[str] = []  # identifiers since the last ; { } at the current depth
    current: str | None = None  # top-level type being read
    for m in _TOKENS.finditer(source):
        tok = m.group()
        if tok[0] in "\"'/":
            continue
        if tok in _PUNCTUATION:
            if tok == "(" and depth == 1 and current and words[-2:] == ["void", "main"] and "static" in words:
                main_type = main_type or current
            if tok == "{":
                if depth == 0:
                    current = _declared_type(words)
                    if current:
                        first_type = first_type or current
                        if "public" in words:
                            public_type = public_type or current
                depth += 1
            elif tok == "}":
                depth = max(0, depth - 1)
            if tok != "(" and tok != ")":
                if depth == 0 and words[:1] == ["package"] and len(words) == 2:
                    package = re.sub(r"\s+", "", words[1])
                words = []
            continue
        words.append(tok)
    return _Unit(package, public_type, main_type, first_type)


def _declared_type(words: list[str]) -> str | None:
    for kw in ("class", "interface", "enum", "record"):
        if kw in words:
            k = words.index(kw)
            if k + 1 < len(words):
                return words[k + 1]
    return None
