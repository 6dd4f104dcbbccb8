"""C# 7 (Mono: ``mcs`` compiler, ``mono`` runtime).

Problems are written the way MultiPL-E writes them: its ``using`` directives, ``class
Problem`` and a ``public static`` method inside it; the harness adds ``Main`` and closes the
class. Types: ``long``, ``double`` (MultiPL-E uses ``float``; this project's floats are 64-bit
everywhere), ``bool``, ``string``, ``List<T>``, ``Dictionary<K, V>``, value tuples
``(long, string)`` (``mcs`` supports 2 to 7 elements in tuple syntax; ``ValueTuple<T>`` for
one, ``ValueTuple`` for none), and for ``Optional[T]`` the nullable type ``T?`` when ``T`` is
a value type and ``T`` itself when it is a reference type (as MultiPL-E does). Function
names are kept as in Python (MultiPL-E converts them to PascalCase; keeping them matches the
docstring's examples, which are not translated).

Building: ``mcs`` then ``mono Program.exe``, as a user would (``System.Numerics`` is
referenced because the prompt's ``using`` list names it).

Batching: ONE ``mcs`` call compiles every candidate into one assembly. Candidate N is
wrapped in ``namespace XplCN { ... }`` (the opening prepended to its first line, so its line
numbers are unchanged and ``using`` directives stay legal; the closing brace appended at the
end), and a dispatcher (``XplBatch.Dispatcher``, the assembly's entry point via ``-main:``)
finds candidate N's ``Main`` by reflection and invokes it with no arguments, exactly as the
runtime would: its return value or ``Environment.ExitCode`` becomes the exit status, and an
exception escaping ``Main`` is rethrown unwrapped (``ExceptionDispatchInfo``), so mono reports
it as unhandled with the same message and exit status 1. Each candidate still runs in its own
``mono`` process. Known differences from a standalone build, none visible to the harness:
type names carry the ``XplCN.`` namespace (``GetType().FullName``, the default ``ToString`` of
candidate-defined classes, stack traces), stack traces show two dispatcher frames, and all
candidates share one assembly (``Assembly.GetTypes`` lists everyone's types).

Because ``-main:`` picks the entry point, a candidate with no valid ``Main`` or several would
compile in a batch although it fails alone; candidates whose source does not declare exactly
one ``static void|int Main()`` / ``Main(string[])`` are therefore compiled on their own, in
the same plan, by a separate ``mcs`` command. Candidates that only compile alone (assembly
attributes, ``extern alias``, a ``#define`` or other directive on the first line) fail the
batch with errors in their own file, so the engine's blame-and-retry compiles them alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from xpl.languages.chat import hoist_lines, make_static, remove_method, unwrap_classes
from xpl.languages.lexical import csharp_brackets_balance

from xpl.languages.base import (
    BUILD,
    BuildPlan,
    Language,
    RunSpec,
    Toolchain,
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

# Reserved keywords of C# 7 (contextual keywords such as ``var`` or ``value`` are legal names).
_KEYWORDS = frozenset(
    "abstract as base bool break byte case catch char checked class const continue decimal default "
    "delegate do double else enum event explicit extern false finally fixed float for foreach goto if "
    "implicit in int interface internal is lock long namespace new null object operator out override "
    "params private protected public readonly ref return sbyte sealed short sizeof stackalloc static "
    "string struct switch this throw true try typeof uint ulong unchecked unsafe ushort using virtual "
    "void volatile while".split()
)

_USINGS = (
    "System",
    "System.Numerics",
    "System.Diagnostics",
    "System.Collections.Generic",
    "System.Linq",
    "System.Text",
    "System.Security.Cryptography",
)

CLASS_NAME = "Problem"
_SOURCE = "Problem.cs"
_EXE = "Problem.exe"
_NAMESPACE = "XplC"  # + candidate index
# What changes meaning (or stops compiling) once wrapped in a namespace: global-namespace
# references, assembly/module attributes, extern aliases and preprocessor symbol definitions
# (which must precede everything else in a file).
_NAMESPACE_SENSITIVE = re.compile(r"\bglobal::|\[\s*(assembly|module)\s*:|\bextern\s+alias\b|^\s*#\s*(define|undef)\b", re.MULTILINE)
_DISPATCHER_FILE = "xpl_dispatch.cs"
_BATCH_EXE = "batch.exe"
_MAX_TUPLE = 7  # mcs: "Internal compiler error: tuples > 7"

# -warn:0: warnings are noise for generated code. System.Numerics is not referenced by default.
_MCS_FLAGS = ("-warn:0", "-r:System.Numerics.dll")

# Under RLIMIT_DATA alone, mono's GC aborts the process ("could not allocate ... for major heap
# section") when many small objects exhaust the limit. A managed heap limit makes that an
# OutOfMemoryException, catchable per test like the JVM's: 75% of the limit, leaving at least
# _NON_HEAP_MB (mono needs ~48 MiB besides its heap) for the runtime's native memory.
_NON_HEAP_MB = 64
_MIN_HEAP_MB = 16

# A static method named Main: group 1 is its return type, group 2 its parameter list.
_MAIN_DECL = re.compile(r"\bstatic\b[^;{}()=]*?([\w.<>\[\]?]+)\s+Main\s*\(([^)]*)\)")
_MAIN_PARAMS = re.compile(r"\s*|\s*(?:params\s+)?(?:System\s*\.\s*)?[Ss]tring\s*\[\s*\]\s*@?\w+\s*")


class CSharp(Language):
    name = "csharp"
    display_name = "C#"
    aliases = ("cs", "csharp", "c#")
    extension = "cs"
    compiled = True
    tools = (("mcs", ("mcs",), ("--version",)), ("mono", ("mono",), ("--version",)))
    apt_packages = ("mono-mcs", "mono-runtime", "libmono-system-numerics4.0-cil")
    batch_size = 64
    # Mono's Debug.Assert is silent; an assertion failure that ends a program is an exception.
    assertion_patterns = (r"FATAL UNHANDLED EXCEPTION: [\w.]*Assert\w*Exception\b",)
    memory_error_patterns = (
        r"System\.OutOfMemoryException",
        r"Garbage collector could not allocate",
    )
    stop_sequences = ("\n    }\n",)
    completion_suffix = "\n    }\n"
    return_template = "        return {};\n"
    comment_prefix = "//"
    reserved_words = _KEYWORDS
    scalar_type_names = {
        IntType: "long",
        FloatType: "double",
        BoolType: "bool",
        StrType: "string",
        NoneType: "void",
    }
    float_specials = ("double.NaN", "double.PositiveInfinity", "double.NegativeInfinity")

    # ----------------------------------------------------------------- building
    def plan_single(self, source: str, tc: Toolchain) -> BuildPlan:
        return BuildPlan(
            files={_SOURCE: source},
            commands=[[tc.tool("mcs"), *_MCS_FLAGS, f"-out:{_EXE}", _SOURCE]],
            runs=[RunSpec([tc.tool("mono"), f"{BUILD}/{_EXE}"])],
            owners={_SOURCE: 0},
        )

    def plan_batch(self, sources: Sequence[str], tc: Toolchain) -> BuildPlan:
        files: dict[str, str] = {}
        runs: list[RunSpec] = []
        owners: dict[str, int] = {}
        batched: list[str] = []
        alone: list[list[str]] = []
        for i, src in enumerate(sources):
            if _has_one_entry_point(src):
                path = f"c{i}.cs"
                # The opening on the first line keeps line numbers; the closing goes after a
                # newline in case the source ends inside a // comment.
                files[path] = f"namespace {_NAMESPACE}{i} {{ " + src + "\n}\n"
                batched.append(path)
                runs.append(RunSpec([tc.tool("mono"), f"{BUILD}/{_BATCH_EXE}", str(i)]))
            else:
                path, exe = f"c{i}/{_SOURCE}", f"c{i}/{_EXE}"
                files[path] = src
                alone.append([tc.tool("mcs"), *_MCS_FLAGS, f"-out:{exe}", path])
                runs.append(RunSpec([tc.tool("mono"), f"{BUILD}/{exe}"]))
            owners[path] = i
        commands = []
        if batched:
            files[_DISPATCHER_FILE] = _DISPATCHER.replace("__NAMESPACE__", _NAMESPACE)
            entry = "-main:XplBatch.Dispatcher"
            commands.append([tc.tool("mcs"), *_MCS_FLAGS, f"-out:{_BATCH_EXE}", entry, _DISPATCHER_FILE, *batched])
        return BuildPlan(files, commands + alone, runs, owners)

    def blame(self, diagnostics: str, plan: BuildPlan) -> set[int]:
        # mcs names the output, not a source file, when a program has no entry point (CS5001).
        hits = super().blame(diagnostics, plan)
        for m in re.finditer(r"`c(\d+)/" + re.escape(_EXE) + "'", diagnostics):
            if f"c{m.group(1)}/{_SOURCE}" in plan.owners:
                hits.add(plan.owners[f"c{m.group(1)}/{_SOURCE}"])
        return hits

    def likely_broken(self, source: str) -> bool:
        # mcs names every broken file of a call at once, but compiles the good ones first
        # to no avail: suspects go to a batch of their own (the default plan_suspects).
        return not csharp_brackets_balance(source)

    def batch_failure_is_final(self, sources: Sequence[str], index: int) -> bool:
        src = sources[index]
        if not _has_one_entry_point(src):
            return True  # it had its own mcs command: that was a standalone compile
        # Inside `namespace XplCN { ... }` only these mean something else than at file level.
        return not _NAMESPACE_SENSITIVE.search(src)

    def run_env(self, tc: Toolchain, memory_mb: int) -> dict[str, str]:
        heap = max(_MIN_HEAP_MB, min(memory_mb * 3 // 4, memory_mb - _NON_HEAP_MB))
        return {"MONO_GC_PARAMS": f"max-heap-size={heap}m"}

    # ----------------------------------------------------------------- rendering
    def render_type(self, typ: Type) -> str:
        return self._type(typ, tuple_syntax=True)

    def _type(self, typ: Type, tuple_syntax: bool) -> str:
        """``tuple_syntax=False`` spells tuples ``ValueTuple<...>``: mcs cannot parse tuple
        syntax in the type arguments of a generic method call."""
        scalar = self.scalar_type_name(typ)
        if scalar is not None:
            return scalar
        if isinstance(typ, ListType):
            return f"List<{self._element(typ.elem, tuple_syntax)}>"
        if isinstance(typ, DictType):
            return f"Dictionary<{self._element(typ.key, tuple_syntax)}, {self._element(typ.value, tuple_syntax)}>"
        if isinstance(typ, OptionalType):
            inner = self._type(typ.inner, tuple_syntax)
            return inner + "?" if _is_value_type(typ.inner) else inner
        if isinstance(typ, UnionType):
            for m in typ.members:
                self._element(m, tuple_syntax)
            return "object"  # the member is the value's class (long, string, List<string>...)
        if isinstance(typ, AnyType):
            return "object"
        if isinstance(typ, TupleType):
            n = len(typ.elems)
            if n > _MAX_TUPLE:
                raise self.unsupported(f"tuples of {n} elements (mcs supports at most {_MAX_TUPLE})")
            if n == 0:
                return "ValueTuple"
            items = ", ".join(self._element(e, tuple_syntax) for e in typ.elems)
            return f"({items})" if tuple_syntax and n >= 2 else f"ValueTuple<{items}>"
        raise self.unsupported(f"type {typ!r}")

    def _element(self, typ: Type, tuple_syntax: bool) -> str:
        if isinstance(typ, NoneType):
            raise self.unsupported("None is only supported as a return type (void)")
        return self._type(typ, tuple_syntax)

    def supports(self, sig: Signature) -> str | None:
        reason = super().supports(sig)
        if reason is None and any(isinstance(p.type, NoneType) for p in sig.params):
            return "None is only supported as a return type (void)"
        return reason

    def render_value(self, value: Any, typ: Type) -> str:
        if isinstance(typ, OptionalType):
            # A bare null converts to any nullable or reference type: every position a value
            # is rendered into (argument, initializer element, tuple element) is typed.
            return "null" if value is None else self.render_value(value, typ.inner)
        if isinstance(typ, UnionType):
            return self.render_value(value, union_member(typ, value))  # boxed where an object is wanted
        if isinstance(typ, AnyType):
            return self.render_value(value, dynamic_type(value))
        if isinstance(typ, IntType):
            self.check_int(value)
            return "long.MinValue" if value == INT_MIN else f"{int(value)}L"
        if isinstance(typ, FloatType):
            return self.float_literal(value)  # Python's shortest round-trip form is a valid C# double literal
        if isinstance(typ, BoolType):
            return "true" if value else "false"
        if isinstance(typ, StrType):
            return escape_string(value, unicode=utf16_escape())
        if isinstance(typ, ListType):
            t = self.render_type(typ)
            if not value:
                return f"new {t}()"
            return f"new {t} {{ " + ", ".join(self.render_value(v, typ.elem) for v in value) + " }"
        if isinstance(typ, DictType):
            t = self.render_type(typ)
            if not value:
                return f"new {t}()"
            entries = ", ".join(
                f"{{ {self.render_value(k, typ.key)}, {self.render_value(v, typ.value)} }}" for k, v in value.items()
            )
            return f"new {t} {{ {entries} }}"
        if isinstance(typ, TupleType):
            t = self.render_type(typ)
            items = ", ".join(self.render_value(v, e) for v, e in zip(value, typ.elems))
            return f"({items})" if len(typ.elems) >= 2 else f"new {t}({items})"
        if isinstance(typ, NoneType):
            raise self.unsupported("None is only supported as a return type (void)")
        raise self.unsupported(f"value {value!r} of type {typ!r}")

    def _function_name(self, sig: Signature) -> str:
        name = self.identifier(sig.name)
        return name + "_" if name == CLASS_NAME else name  # a member cannot share its class's name

    def split_reply(self, code: str, sig: Signature) -> tuple[list[str], str]:
        # As Java: `using` directives go first, namespaces and classes the reply wrote are
        # unwrapped into the harness's class, its Main goes, and methods become static.
        imports, code = hoist_lines(code, r"using\s+[\w.]+\s*;")
        code = remove_method(unwrap_classes(code), r"^[ \t]*(?:(?:public|private)\s+)?static\s+(?:void|int)\s+Main\s*\([^)]*\)[^{]*")
        return imports, make_static(code)

    def prompt(self, sig: Signature, docstring: str) -> str:
        params = ", ".join(f"{self.render_type(p.type)} {self.identifier(p.name)}" for p in sig.params)
        head = "".join(f"using {u};\n" for u in _USINGS) + f"class {CLASS_NAME} {{\n"
        if docstring.strip():
            head += self.comment(docstring, "    ")
        return head + f"    public static {self.render_type(sig.returns)} {self._function_name(sig)}({params}) {{\n"

    def harness(self, sig: Signature, tests: Sequence[TestCase]) -> str:
        self.refuse_any_result(sig)
        name = self._function_name(sig)
        rows = []
        for t in tests:
            call = f"{name}(" + ", ".join(self.render_value(a, p.type) for a, p in zip(t.args, sig.params)) + ")"
            if isinstance(sig.returns, NoneType):
                rows.append(f"            () => {{ {call}; return __XplVoid; }},\n")
            else:
                rows.append(f"            () => {call},\n")
        return _JSON_HELPERS + _REPORT_MAIN.replace("__XPL_CALLS__", "".join(rows)) + "}\n"

    def check_harness(self, sig: Signature, tests: Sequence[TestCase]) -> str:
        self.refuse_any_result(sig)
        name = self._function_name(sig)
        rows = []
        for t in tests:
            call = f"{name}(" + ", ".join(self.render_value(a, p.type) for a, p in zip(t.args, sig.params)) + ")"
            if isinstance(sig.returns, NoneType):
                rows.append(f"            () => {{ {call}; return true; }},\n")
            else:
                # The explicit type argument gives the expected value's literal its type
                # (a tuple literal holding null has none of its own).
                ret = self._type(sig.returns, tuple_syntax=False)
                expected = self.render_value(t.expected, sig.returns)
                rows.append(f"            () => __XplCheck<{ret}>({call}, {expected}),\n")
        return _HELPERS + _MAIN.replace("__XPL_TESTS__", "".join(rows)) + "}\n"


def _is_value_type(typ: Type) -> bool:
    return isinstance(typ, (IntType, FloatType, BoolType, TupleType))


def _has_one_entry_point(source: str) -> bool:
    """True if ``source`` declares exactly one static ``Main`` and it is a valid entry point.

    A textual check: false alarms (a ``Main`` inside a comment or string) only cost the
    candidate a compiler call of its own; a declaration it misses would make the dispatcher
    exit with status 2 and say why.
    """
    mains = _MAIN_DECL.findall(source)
    return len(mains) == 1 and mains[0][0] in ("void", "int") and _MAIN_PARAMS.fullmatch(mains[0][1]) is not None


# Deep equality mirroring ``xpl.languages.types.values_equal`` for the types above. Library
# types are spelled out in full so that nothing depends on the prompt's ``using`` list.
_HELPERS = """\
    private static bool __XplClose(double a, double b) {
        if (double.IsNaN(a) || double.IsNaN(b)) return double.IsNaN(a) && double.IsNaN(b);
        if (double.IsInfinity(a) || double.IsInfinity(b)) return a == b;
        double scale = System.Math.Max(System.Math.Abs(a), System.Math.Abs(b));
        return System.Math.Abs(a - b) <= System.Math.Max(1e-6 * scale, 1e-9);
    }
    private static bool __XplEq(object a, object b) {
        if (a == null || b == null) return a == null && b == null;
        if (a is double || b is double) return a is double && b is double && __XplClose((double)a, (double)b);
        if (a is string || b is string) return a.Equals(b);
        var da = a as System.Collections.IDictionary;
        var db = b as System.Collections.IDictionary;
        if (da != null || db != null) {
            if (da == null || db == null || da.Count != db.Count) return false;
            foreach (System.Collections.DictionaryEntry e in da) {
                if (!db.Contains(e.Key) || !__XplEq(e.Value, db[e.Key])) return false;
            }
            return true;
        }
        var la = a as System.Collections.IList;
        var lb = b as System.Collections.IList;
        if (la != null || lb != null) {
            if (la == null || lb == null || la.Count != lb.Count) return false;
            for (int i = 0; i < la.Count; i++) if (!__XplEq(la[i], lb[i])) return false;
            return true;
        }
        var ta = a as System.Runtime.CompilerServices.ITuple;
        var tb = b as System.Runtime.CompilerServices.ITuple;
        if (ta != null || tb != null) {
            if (ta == null || tb == null || ta.Length != tb.Length) return false;
            for (int i = 0; i < ta.Length; i++) if (!__XplEq(ta[i], tb[i])) return false;
            return true;
        }
        return a.GetType() == b.GetType() && a.Equals(b);
    }
    private static bool __XplCheck<T>(T actual, T expected) {
        return __XplEq(actual, expected);
    }
"""

_MAIN = """\
    public static void Main(string[] __xplArgs) {
        string __xplNonce = System.Environment.GetEnvironmentVariable("XPL_NONCE") ?? "-";
        var __xplTests = new System.Func<bool>[] {
__XPL_TESTS__        };
        int __xplFailed = 0;
        for (int __xplI = 0; __xplI < __xplTests.Length; __xplI++) {
            string __xplOutcome;
            try {
                __xplOutcome = __xplTests[__xplI]() ? "pass" : "fail";
            } catch (System.Exception __xplE) {  // StackOverflowException and OutOfMemoryException included
                __xplOutcome = "error";
                string __xplWhat = __xplE.GetType().FullName + ": " + __xplE.Message;
                if (__xplWhat.Length > 2000) __xplWhat = __xplWhat.Substring(0, 2000);
                System.Console.Error.WriteLine("test " + __xplI + ": " + __xplWhat);
            }
            if (__xplOutcome != "pass") __xplFailed++;
            System.Console.Out.Write("\\n@@xpl " + __xplNonce + " " + __xplI + " " + __xplOutcome + "\\n");
            System.Console.Out.Flush();
        }
        System.Console.Out.Write("\\n@@xpl " + __xplNonce + " done\\n");
        System.Console.Out.Flush();
        // MultiPL-E's C# evaluator builds with /d:DEBUG and ignores the exit status: a failed
        // Debug.Assert (written to stderr) is what it reads. Without DEBUG this is no call at all.
        System.Diagnostics.Debug.Assert(__xplFailed == 0, "xpl: a test failed");
        System.Environment.Exit(__xplFailed == 0 ? 0 : 1);
    }
"""

# The harness of the value protocol: each result written as JSON by __XplJson, which takes the
# runtime classes a result of the types above has (a null is None: Optional reference types
# are plain references; and int, short, sbyte and float, which a method returning a union's
# object can box) and writes {"invalid": ...} for anything else. Strings are written as
# ASCII, UTF-16 units beyond it as \uXXXX escapes.
_JSON_HELPERS = """\
    private static readonly object __XplVoid = new object();
    private static void __XplJson(System.Text.StringBuilder o, object v) {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        if (v == null || v == __XplVoid) { o.Append("null"); return; }
        // A method returning object (a union) may box an int literal as int, a float as float.
        if (v is int || v is short || v is sbyte) { o.Append(System.Convert.ToInt64(v).ToString(inv)); return; }
        if (v is double || v is float) {
            double d = System.Convert.ToDouble(v);
            if (double.IsNaN(d)) o.Append("\\"nan\\"");
            else if (double.IsInfinity(d)) o.Append(d > 0 ? "\\"inf\\"" : "\\"-inf\\"");
            else o.Append(d.ToString("R", inv));
            return;
        }
        if (v is long) { o.Append(((long)v).ToString(inv)); return; }
        if (v is bool) { o.Append((bool)v ? "true" : "false"); return; }
        var s = v as string;
        if (s != null) {
            o.Append('"');
            foreach (char c in s) {
                if (c == '"' || c == '\\\\') o.Append('\\\\').Append(c);
                else if (c < 0x20 || c > 0x7e) o.Append("\\\\u").Append(((int)c).ToString("x4"));
                else o.Append(c);
            }
            o.Append('"');
            return;
        }
        var map = v as System.Collections.IDictionary;
        if (map != null) {
            o.Append('[');
            string sep = "[";
            foreach (System.Collections.DictionaryEntry e in map) {
                o.Append(sep);
                __XplJson(o, e.Key);
                o.Append(',');
                __XplJson(o, e.Value);
                o.Append(']');
                sep = ",[";
            }
            o.Append(']');
            return;
        }
        var list = v as System.Collections.IList;
        var tuple = v as System.Runtime.CompilerServices.ITuple;
        if (list != null || tuple != null) {
            int n = list != null ? list.Count : tuple.Length;
            o.Append('[');
            for (int i = 0; i < n; i++) {
                if (i > 0) o.Append(',');
                __XplJson(o, list != null ? list[i] : tuple[i]);
            }
            o.Append(']');
            return;
        }
        o.Append("{\\"invalid\\":\\"").Append(System.Text.RegularExpressions.Regex.Replace(v.GetType().Name, "[^A-Za-z0-9]", "")).Append("\\"}");
    }
"""

_REPORT_MAIN = """\
    public static void Main(string[] __xplArgs) {
        string __xplNonce = System.Environment.GetEnvironmentVariable("XPL_NONCE") ?? "-";
        var __xplCalls = new System.Func<object>[] {
__XPL_CALLS__        };
        for (int __xplI = 0; __xplI < __xplCalls.Length; __xplI++) {
            string __xplLine;
            try {
                var __xplOut = new System.Text.StringBuilder("value ");
                __XplJson(__xplOut, __xplCalls[__xplI]());
                __xplLine = __xplOut.ToString();
            } catch (System.Exception __xplE) {  // StackOverflowException and OutOfMemoryException included
                __xplLine = "error";
                string __xplWhat = __xplE.GetType().FullName + ": " + __xplE.Message;
                if (__xplWhat.Length > 2000) __xplWhat = __xplWhat.Substring(0, 2000);
                System.Console.Error.WriteLine("test " + __xplI + ": " + __xplWhat);
            }
            System.Console.Out.Write("\\n@@xpl " + __xplNonce + " " + __xplI + " " + __xplLine + "\\n");
            System.Console.Out.Flush();
        }
        System.Console.Out.Write("\\n@@xpl " + __xplNonce + " done\\n");
        System.Console.Out.Flush();
        System.Environment.Exit(0);
    }
"""

# The batch's entry point: runs candidate <args[0]>'s Main as the runtime would run it alone.
_DISPATCHER = """\
namespace XplBatch {
    internal static class Dispatcher {
        private static int Main(string[] args) {
            string ns = "__NAMESPACE__" + args[0];
            System.Reflection.MethodInfo entry = null;
            int found = 0;
            const System.Reflection.BindingFlags statics = System.Reflection.BindingFlags.Static
                | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic
                | System.Reflection.BindingFlags.DeclaredOnly;
            foreach (System.Type type in typeof(Dispatcher).Assembly.GetTypes()) {
                if (type.Namespace == null || (type.Namespace != ns && !type.Namespace.StartsWith(ns + "."))) continue;
                if (type.ContainsGenericParameters) continue;
                foreach (System.Reflection.MethodInfo m in type.GetMethods(statics)) {
                    if (m.Name != "Main" || m.IsGenericMethodDefinition) continue;
                    if (m.ReturnType != typeof(void) && m.ReturnType != typeof(int)) continue;
                    System.Reflection.ParameterInfo[] ps = m.GetParameters();
                    if (ps.Length > 1 || (ps.Length == 1 && ps[0].ParameterType != typeof(string[]))) continue;
                    entry = m;
                    found++;
                }
            }
            if (found != 1) {
                System.Console.Error.WriteLine("xpl batch: candidate " + args[0] + " has " + found + " entry points");
                return 2;
            }
            object[] argv = entry.GetParameters().Length == 1 ? new object[] { new string[0] } : new object[0];
            object result;
            try {
                result = entry.Invoke(null, argv);
            } catch (System.Reflection.TargetInvocationException e) {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
                throw;
            }
            return result is int ? (int)result : System.Environment.ExitCode;
        }
    }
}
"""
