"""Go (1.18 or newer: the harness uses generics).

A program is one ``package main`` file built with ``go build`` in file-list mode, as a user
would build a single file. Everything runs offline and reproducibly: no cgo, no module proxy,
no toolchain switching, no user ``go env`` file, and a persistent build cache (``GOCACHE``)
under the xpl cache directory so the standard library is compiled once per machine, not
once per program.

Batching: a batch is one module (``go.mod``: ``module xplbatch``) in which every candidate is
its own package in ``cN/main.go``. A candidate that initialises nothing at package level (no
``init`` function, no package variable but the harness's blank ``var _, _ = sort.Ints, ...``)
becomes package ``xplbatch/cN`` with its ``main`` renamed ``XplMain``, and all of those are
linked into ONE executable whose ``main`` calls the candidate named by ``XPL_BATCH_ENTRY``
(removed from the environment before the candidate starts). Linking one static executable
per candidate was most of a batch's time (38 programs: 12.4 s before, 4.1 s shared, on busy
cores); since such a candidate initialises nothing, what runs before its main is what runs
alone: the initialisation of the standard-library packages the prompt imports, the same for
every candidate. The others keep their own ``package main`` and executable (``go build -o
bin/ ./cN ...``). Both are built at the toolchain's own language version (the module's ``go``
directive), the version a lone file is compiled at, and linked without symbol table and
DWARF (``-s -w``; tracebacks use the pclntab, which stays). What a candidate can see of the
batch: panic traces and ``runtime.Caller`` name ``xplbatch/cN.XplMain`` instead of
``main.main``, and ``os.Args[0]`` is the shared executable. Go reports every failing package
with a ``# xplbatch/cN`` header and ``cN/main.go:line:col`` positions, which ``blame`` maps
back to candidates; the shared executable exists only when all its packages compile, so the
engine rebuilds the unblamed ones (from the build cache: a link) without the failing ones.

Prompts follow MultiPL-E's Go prompts (a file header with imports, the docstring as ``//``
comments, then ``func name(arg type, ...) type {``), with one difference: Go refuses to compile
a file with an unused import, and imports can only be written at the top of the file, before
the function the model completes. The prompt therefore imports the packages typical solutions
need (``fmt math sort strconv strings unicode``) plus ``os`` for the harness, and the harness
references each of them once so that a solution using none of them still compiles.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Sequence

from xpl.languages.chat import hoist_lines, rename_entry_point

from xpl.languages.base import BUILD, BuildPlan, Language, RunSpec, Toolchain, cache_dir, escape_string
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

# Imported by every prompt; the harness keeps each one used (see the module docstring).
_IMPORTS = ("fmt", "math", "os", "sort", "strconv", "strings", "unicode")
_IMPORT_USES = "var _, _, _, _ = sort.Ints, strconv.Itoa, strings.Contains, unicode.IsLetter\n"

_KEYWORDS = frozenset(
    "break case chan const continue default defer else fallthrough for func go goto if import interface "
    "map package range return select struct switch type var".split()
)
# Predeclared identifiers are legal names, but a parameter called `string` or `len` would
# shadow the type or builtin the signature and solution need; `main` and `init` are special
# at package level, and the imported package names must stay reachable from the solution.
_PREDECLARED = frozenset(
    "any bool byte comparable complex64 complex128 error float32 float64 int int8 int16 int32 int64 rune "
    "string uint uint8 uint16 uint32 uint64 uintptr true false iota nil append cap clear close complex copy "
    "delete imag len make new panic print println real recover main init".split()
)
_RESERVED = _KEYWORDS | _PREDECLARED | frozenset(_IMPORTS)

BATCH_MODULE = "xplbatch"

# Deep equality mirroring ``xpl.languages.types.values_equal``. Comparators are composed per
# type by ``Go._equality`` from these generic helpers; lengths are compared rather than
# nil-ness, so a nil slice or map equals an empty one (as [] == [] in Python).
_HARNESS_PRELUDE = """
func xplClose(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	if math.IsInf(a, 0) || math.IsInf(b, 0) {
		return a == b
	}
	return math.Abs(a-b) <= math.Max(1e-6*math.Max(math.Abs(a), math.Abs(b)), 1e-9)
}

func xplEqPlain[T comparable](a, b T) bool { return a == b }

func xplEqSlice[T any](eq func(T, T) bool) func([]T, []T) bool {
	return func(a, b []T) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if !eq(a[i], b[i]) {
				return false
			}
		}
		return true
	}
}

func xplEqMap[K comparable, V any](eq func(V, V) bool) func(map[K]V, map[K]V) bool {
	return func(a, b map[K]V) bool {
		if len(a) != len(b) {
			return false
		}
		for k, va := range a {
			vb, ok := b[k]
			if !ok || !eq(va, vb) {
				return false
			}
		}
		return true
	}
}

func xplEqPtr[T any](eq func(T, T) bool) func(*T, *T) bool {
	return func(a, b *T) bool {
		if a == nil || b == nil {
			return a == nil && b == nil
		}
		return eq(*a, *b)
	}
}

func xplShow(v any) string {
	s := fmt.Sprintf("%v", v)
	if len(s) > 2000 {
		s = s[:2000] + "..."
	}
	return s
}

// xplCheck runs one test; a panic in the candidate is that test's error.
func xplCheck[T any](nonce string, i int, call func() T, want T, eq func(T, T) bool) (passed bool) {
	outcome := "error"
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "test %d: panic: %v\\n", i, r)
		}
		fmt.Printf("\\n@@xpl %s %d %s\\n", nonce, i, outcome)
		passed = outcome == "pass"
	}()
	got := call()
	if eq(got, want) {
		outcome = "pass"
	} else {
		outcome = "fail"
		fmt.Fprintf(os.Stderr, "test %d: expected %s, got %s\\n", i, xplShow(want), xplShow(got))
	}
	return
}
"""


# The harness of the value protocol: each result written as JSON by an encoder that
# ``Go._encoder`` composes per type from these helpers. A nil slice or map is written as an
# empty one (as the comparators above treat them); string bytes are written as they are apart
# from quotes, backslashes and control characters (the engine reads invalid UTF-8 as such).
_VALUE_PRELUDE = r"""
type xplOut = *strings.Builder

func xplJsonInt(b xplOut, v int) { b.WriteString(strconv.Itoa(v)) }

func xplJsonFloat(b xplOut, v float64) {
	switch {
	case math.IsNaN(v):
		b.WriteString(`"nan"`)
	case math.IsInf(v, 1):
		b.WriteString(`"inf"`)
	case math.IsInf(v, -1):
		b.WriteString(`"-inf"`)
	default:
		b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
	}
}

func xplJsonBool(b xplOut, v bool) { b.WriteString(strconv.FormatBool(v)) }

func xplJsonString(b xplOut, v string) {
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(b, "\\u%04x", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

func xplJsonNone(b xplOut, v struct{}) { b.WriteString("null") }

// xplLetter keeps the letters and digits of a type's name (for {"invalid": ...}).
func xplLetter(r rune) rune {
	if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
		return r
	}
	return -1
}

func xplJsonSlice[T any](enc func(xplOut, T)) func(xplOut, []T) {
	return func(b xplOut, v []T) {
		b.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			enc(b, x)
		}
		b.WriteByte(']')
	}
}

func xplJsonMap[K comparable, V any](key func(xplOut, K), value func(xplOut, V)) func(xplOut, map[K]V) {
	return func(b xplOut, v map[K]V) {
		b.WriteByte('[')
		sep := "["
		for k, x := range v {
			b.WriteString(sep)
			key(b, k)
			b.WriteByte(',')
			value(b, x)
			b.WriteByte(']')
			sep = ",["
		}
		b.WriteByte(']')
	}
}

func xplJsonPtr[T any](enc func(xplOut, T)) func(xplOut, *T) {
	return func(b xplOut, v *T) {
		if v == nil {
			b.WriteString("null")
		} else {
			enc(b, *v)
		}
	}
}

// xplReport runs one test and writes its result; a panic in the candidate is that test's error.
func xplReport[T any](nonce string, i int, call func() T, enc func(xplOut, T)) {
	line := "error"
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "test %d: panic: %v\n", i, r)
		}
		fmt.Printf("\n@@xpl %s %d %s\n", nonce, i, line)
	}()
	got := call()
	var b strings.Builder
	b.WriteString("value ")
	enc(&b, got)
	line = b.String()
}
"""


# Shared batches: candidates that initialise nothing at package level (no init functions, no
# package variables but the harness's `var _, _ = sort.Ints, ...`) are compiled as packages
# `xplbatch/cN` (package clause renamed, `func main()` renamed XplMain) and linked into ONE
# executable whose main calls the candidate named by XPL_BATCH_ENTRY. Linking is most of a
# Go batch's time, and with nothing initialised at package level, what runs before the
# candidate's main is what runs alone: the standard library's own initialisation (of the
# packages the prompt imports, the same for every candidate). Other candidates keep their own
# executable.
SHARED_BINARY = "xplshared"
ENTRY_FUNC = "XplMain"
BATCH_ENTRY_ENV = "XPL_BATCH_ENTRY"
_PACKAGE_MAIN = re.compile(r"^package\s+main\b", re.MULTILINE)
_FUNC_MAIN = re.compile(r"^func\s+main\s*\(\s*\)", re.MULTILINE)
_BLANK_VAR = re.compile(r"var\s+_(\s*,\s*_)*\s*=\s*[\w.]+(\s*,\s*[\w.]+)*\s*;?\s*")


def _top_level_lines(src: str) -> list[str] | None:
    """The source lines that start outside every brace and parenthesis (comments and string
    literals removed), or None when the braces do not balance."""
    out, line, depth, i, n = [], [], 0, 0, len(src)
    start_depth = 0
    while i < n:
        ch = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
            continue
        if src.startswith("/*", i):
            j = src.find("*/", i + 2)
            if j < 0:
                return None
            i = j + 2
            continue
        if ch in "\"'`":
            j = i + 1
            while j < n and src[j] != ch:
                if ch != "`" and src[j] == "\\":
                    j += 1
                elif ch != "`" and src[j] == "\n":
                    return None
                j += 1
            if j >= n:
                return None
            line.append(ch + ch)
            i = j + 1
            continue
        if ch == "\n":
            if start_depth == 0:
                out.append("".join(line))
            line, start_depth = [], depth
        else:
            if ch in "{(":
                depth += 1
            elif ch in "})":
                depth -= 1
                if depth < 0:
                    return None
            line.append(ch)
        i += 1
    if start_depth == 0:
        out.append("".join(line))
    return out if depth == 0 else None


def _as_package(src: str, package: str) -> str | None:
    """``src`` as package ``package`` with its main renamed, for a shared batch executable; None
    when it initialises something at package level (or is not one plain main program)."""
    if len(_PACKAGE_MAIN.findall(src)) != 1 or len(_FUNC_MAIN.findall(src)) != 1:
        return None
    lines = _top_level_lines(src)
    if lines is None:
        return None
    for line in lines:
        text = line.strip()
        if re.match(r"func\s+init\b", text):
            return None
        if re.match(r"var\b", text) and not _BLANK_VAR.fullmatch(text):
            return None
    src = _PACKAGE_MAIN.sub(f"package {package}", src, count=1)
    return _FUNC_MAIN.sub(f"func {ENTRY_FUNC}()", src, count=1)


def _dispatcher(indices: Sequence[int]) -> str:
    imports = "".join(f'\tc{i} "{BATCH_MODULE}/c{i}"\n' for i in indices)
    cases = "".join(f'\tcase "{i}":\n\t\tc{i}.{ENTRY_FUNC}()\n' for i in indices)
    return (
        f'package main\n\nimport (\n\t"os"\n{imports})\n\nfunc main() {{\n'
        f'\tentry := os.Getenv("{BATCH_ENTRY_ENV}")\n'
        f'\tos.Unsetenv("{BATCH_ENTRY_ENV}") // the candidate must not see the selector\n'
        f"\tswitch entry {{\n{cases}\tdefault:\n"
        f'\t\tos.Stderr.WriteString("xpl batch: no candidate " + entry + " in this binary\\n")\n'
        f"\t\tos.Exit(2)\n\t}}\n}}\n"
    )


def _language_version(tc: Toolchain) -> str:
    """The toolchain's own language version (``go version go1.19.8 linux/amd64`` -> ``1.19``).

    A single file built outside any module is compiled at the toolchain's language version, so
    the batch module declares the same one: language semantics (e.g. the per-iteration loop
    variables of Go 1.22) then do not differ between a candidate alone and in a batch.
    """
    m = re.search(r"\bgo(\d+)\.(\d+)", tc.version)
    return f"{m.group(1)}.{m.group(2)}" if m else "1.18"


def _cache_dir() -> Path:
    return cache_dir() / "go"


class _GoUnicodeEscape:
    """``escape_string`` formatter: ``\\u`` takes exactly 4 hex digits in Go, ``\\U`` exactly 8."""

    def format(self, cp: int) -> str:
        return f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}"


class Go(Language):
    name = "go"
    display_name = "Go"
    aliases = ("go", "golang", "go_test.go")  # the last: MultiPL-E's name of its Go datasets
    extension = "go"
    compiled = True
    tools = (("go", ("go",), ("version",)),)
    apt_packages = ("golang-go",)
    batch_size = 64
    memory_error_patterns = (
        r"^fatal error: (runtime: )?out of memory",
        r"^runtime: out of memory",
        r"^fatal error: runtime: cannot allocate memory",
    )
    # The function's closing brace at column 0 ends it, as MultiPL-E does for Rust and C++.
    # MultiPL-E's Go stops ("\nfunc", "struct", "\n// ") leave that brace in the completion
    # instead (and "struct" cuts any completion that declares a struct type).
    stop_sequences = ("\n}",)
    completion_suffix = "}\n"
    return_template = "\treturn {}\n"
    comment_prefix = "//"
    reserved_words = _RESERVED
    scalar_type_names = {
        IntType: "int",
        FloatType: "float64",
        BoolType: "bool",
        StrType: "string",
        NoneType: "struct{}",
    }
    float_specials = ("math.NaN()", "math.Inf(1)", "math.Inf(-1)")

    # ----------------------------------------------------------------- building
    def _env(self) -> dict[str, str]:
        cache = _cache_dir()
        return {
            "GOCACHE": str(cache / "build"),
            # Nothing is downloaded (no requirements, GOPROXY=off), but go still wants these.
            "GOPATH": str(cache / "path"),
            "GOMODCACHE": str(cache / "path" / "pkg" / "mod"),
            "GO111MODULE": "on",
            "GOFLAGS": "-mod=mod -buildvcs=false",
            "GOPROXY": "off",
            "GOSUMDB": "off",
            "GOTOOLCHAIN": "local",
            "GOTELEMETRY": "off",
            "GOWORK": "off",
            "GOENV": "off",
            "CGO_ENABLED": "0",
            # The compiler and linker are short-lived: collecting garbage only slows them down.
            "GOGC": "off",
        }

    def _writable(self) -> list[str]:
        return [str(_cache_dir())]  # go creates GOCACHE (and the engine the mount point) when missing

    def plan_single(self, source: str, tc: Toolchain) -> BuildPlan:
        return BuildPlan(
            files={"main.go": source},
            commands=[[tc.tool("go"), "build", "-o", "main", "main.go"]],
            runs=[RunSpec([f"{BUILD}/main"])],
            owners={"main.go": 0},
            env=self._env(),
            writable=self._writable(),
        )

    def plan_batch(self, sources: Sequence[str], tc: Toolchain) -> BuildPlan:
        files = {"go.mod": f"module {BATCH_MODULE}\n\ngo {_language_version(tc)}\n"}
        owners: dict[str, int] = {}
        runs: list[RunSpec] = []
        alone, shared = [], []
        for i, src in enumerate(sources):
            as_package = _as_package(src, f"c{i}")
            files[f"c{i}/main.go"] = src if as_package is None else as_package
            owners[f"c{i}/main.go"] = i
            (alone if as_package is None else shared).append(i)
            if as_package is None:
                runs.append(RunSpec([f"{BUILD}/bin/c{i}"]))
            else:
                runs.append(RunSpec([f"{BUILD}/bin/{SHARED_BINARY}"], env={BATCH_ENTRY_ENV: str(i)}))
        go = tc.tool("go")
        commands = []
        if alone:
            # Linking dominates (one static executable per candidate); -s -w halves it.
            commands.append([go, "build", "-ldflags=-s -w", "-o", "bin/", *(f"./c{i}" for i in alone)])
        if shared:
            files["xplmain/main.go"] = _dispatcher(shared)
            commands.append([go, "build", "-ldflags=-s -w", "-o", f"bin/{SHARED_BINARY}", "./xplmain"])
        # go build writes the executables of the packages that compiled when another fails;
        # the shared one exists only when all of its packages compiled (the engine rebuilds
        # the unblamed ones, from the build cache, without the failing ones).
        return BuildPlan(files, commands, runs, owners, self._env(), self._writable(), keep_going=True)

    def batch_failure_is_final(self, sources: Sequence[str], index: int) -> bool:
        # Each candidate is its own package, built at the toolchain's own language version like
        # a lone file; packages cannot see each other, so a failure is the candidate's own,
        # unless renaming its package and main could be the cause (it names main elsewhere,
        # or XplMain).
        src = sources[index]
        if _as_package(src, "c0") is None:
            return True
        return len(re.findall(r"\bmain\b", src)) == 2 and ENTRY_FUNC not in src

    def blame(self, diagnostics: str, plan: BuildPlan) -> set[int]:
        hits = super().blame(diagnostics, plan)
        # `# xplbatch/c3` heads the errors of a package, also those without a file position.
        for m in re.finditer(rf"\b{BATCH_MODULE}/c(\d+)\b", diagnostics):
            if f"c{m.group(1)}/main.go" in plan.owners:
                hits.add(plan.owners[f"c{m.group(1)}/main.go"])
        return hits

    def run_env(self, tc: Toolchain, memory_mb: int) -> dict[str, str]:
        # A soft heap limit below the hard memory limit makes the collector work harder
        # before the process would be killed, instead of growing the heap lazily.
        return {"GOMEMLIMIT": f"{max(16, memory_mb * 3 // 4)}MiB"}

    # ----------------------------------------------------------------- rendering
    def render_type(self, typ: Type) -> str:
        scalar = self.scalar_type_name(typ)
        if scalar is not None:
            return scalar
        if _dynamic(typ):
            # A union (of any members) or Any is an interface{} a Go programmer type-switches
            # on; it holds nil too, so an Optional of one is the same interface{}.
            for t in typ.walk():
                if not isinstance(t, (UnionType, AnyType, OptionalType)):
                    self.render_type(t)
            return "interface{}"
        if isinstance(typ, ListType):
            return "[]" + self.render_type(typ.elem)
        if isinstance(typ, TupleType):
            return self._tuple_type(typ)
        if isinstance(typ, DictType):
            if any(isinstance(t, OptionalType) for t in typ.key.walk()):
                # Optionals are pointers, and map keys compare pointers by address.
                raise self.unsupported(f"dict key type {typ.key} contains an Optional (a pointer in Go)")
            return f"map[{self.render_type(typ.key)}]{self.render_type(typ.value)}"
        if isinstance(typ, OptionalType):
            return "*" + self.render_type(typ.inner)
        raise self.unsupported(f"type {typ!r}")

    def _tuple_type(self, typ: TupleType) -> str:
        """Homogeneous tuples are arrays (``[2]int``), others anonymous structs with fields F0, F1, ..."""
        if not typ.elems:
            return "struct{}"
        if typ.homogeneous:
            return f"[{len(typ.elems)}]{self.render_type(typ.elems[0])}"
        return "struct{ " + "; ".join(f"F{k} {self.render_type(t)}" for k, t in enumerate(typ.elems)) + " }"

    def float_literal(self, value: float) -> str:
        v = float(value)
        if v == 0.0 and math.copysign(1.0, v) < 0:
            return "math.Copysign(0, -1)"  # the constant -0.0 is exact zero in Go
        return super().float_literal(v)

    def render_value(self, value: Any, typ: Type) -> str:
        if _dynamic(typ):
            # The member's own literal: an untyped constant takes its default type (int,
            # float64, string), which is the member's Go type.
            if value is None:
                return "nil"
            inner = typ.inner if isinstance(typ, OptionalType) else typ
            member = union_member(inner, value) if isinstance(inner, UnionType) else dynamic_type(value)
            return self.render_value(value, member)
        if isinstance(typ, OptionalType):
            if value is None:
                return "nil"
            # Indexing a one-element slice literal is addressable: a fresh *T, with no helper.
            return f"&[]{self.render_type(typ.inner)}{{{self.render_value(value, typ.inner)}}}[0]"
        if isinstance(typ, NoneType):
            return "struct{}{}"
        if isinstance(typ, FloatType):
            return self.float_literal(value)
        if isinstance(typ, IntType):
            self.check_int(value)
            return str(int(value))  # constants are exact: -9223372036854775808 is fine
        if isinstance(typ, BoolType):
            return "true" if value else "false"
        if isinstance(typ, StrType):
            return self._string_literal(value)
        if isinstance(typ, ListType):
            items = ", ".join(self.render_value(v, typ.elem) for v in value)
            return f"{self.render_type(typ)}{{{items}}}"
        if isinstance(typ, TupleType):
            items = ", ".join(self.render_value(v, t) for v, t in zip(value, typ.elems))
            return f"{self.render_type(typ)}{{{items}}}"
        if isinstance(typ, DictType):
            pairs = [f"{self.render_value(k, typ.key)}: {self.render_value(v, typ.value)}" for k, v in value.items()]
            items = ", ".join(pairs)
            return f"{self.render_type(typ)}{{{items}}}"
        raise self.unsupported(f"value {value!r} of type {typ!r}")

    def _string_literal(self, s: str) -> str:
        if any(0xD800 <= ord(ch) <= 0xDFFF for ch in s):
            raise self.unsupported("string with a lone surrogate (not a valid Go string escape)")
        return escape_string(s, '"', unicode=_GoUnicodeEscape())

    def _equality(self, typ: Type) -> str:
        """A Go expression of type ``func(T, T) bool`` comparing two values of ``typ`` deeply."""
        if _dynamic(typ):
            # b is the expected value, of the member its literal has; a must be of that member.
            cases = "".join(
                f"case {self.render_type(m)}: x, ok := a.({self.render_type(m)}); return ok && {self._equality(m)}(x, y); "
                for m in _members(typ)
            )
            return f"func(a, b interface{{}}) bool {{ switch y := b.(type) {{ case nil: return a == nil; {cases}}}; return false }}"
        if isinstance(typ, FloatType):
            return "xplClose"
        if isinstance(typ, (IntType, BoolType, StrType, NoneType)):
            return f"xplEqPlain[{self.render_type(typ)}]"
        if isinstance(typ, ListType):
            return f"xplEqSlice[{self.render_type(typ.elem)}]({self._equality(typ.elem)})"
        if isinstance(typ, DictType):
            k, v = self.render_type(typ.key), self.render_type(typ.value)
            return f"xplEqMap[{k}, {v}]({self._equality(typ.value)})"
        if isinstance(typ, OptionalType):
            return f"xplEqPtr[{self.render_type(typ.inner)}]({self._equality(typ.inner)})"
        if isinstance(typ, TupleType):
            t = self.render_type(typ)
            if not typ.elems:
                return f"xplEqPlain[{t}]"
            if typ.homogeneous:
                elem = typ.elems[0]
                each = f"xplEqSlice[{self.render_type(elem)}]({self._equality(elem)})"
                return f"func(a, b {t}) bool {{ return {each}(a[:], b[:]) }}"
            fields = " && ".join(f"{self._equality(e)}(a.F{k}, b.F{k})" for k, e in enumerate(typ.elems))
            return f"func(a, b {t}) bool {{ return {fields} }}"
        raise self.unsupported(f"type {typ!r}")

    def split_reply(self, code: str, sig: Signature) -> tuple[list[str], str]:
        # The header has the package clause and imports: the reply's package clause goes, its
        # imports are merged into the header's block (Go rejects a package imported twice),
        # and a func main of its own becomes an uncalled function.
        _, code = hoist_lines(code, r"package\s+\w+")
        imports: list[str] = []

        def take(m: re.Match) -> str:
            imports.extend(re.findall(r'(?:\w+\s+)?"[^"]+"', m.group(1) or m.group(2)))
            return ""

        code = re.sub(r'^import\s*\(([^)]*)\)[ \t]*\n?|^import\s+((?:\w+\s+)?"[^"]+")[ \t]*\n?', take, code, flags=re.MULTILINE)
        return imports, rename_entry_point(code, r"^func\s+main\s*\(\s*\)", "func xplUserMain()")

    def merge_header(self, header: str, imports: Sequence[str]) -> str:
        have = {f'"{name}"' for name in _IMPORTS}
        extra = "".join(f"\t{spec}\n" for spec in dict.fromkeys(imports) if spec not in have)
        return header.replace("import (\n", "import (\n" + extra, 1)

    def prompt(self, sig: Signature, docstring: str) -> str:
        imports = "".join(f'\t"{name}"\n' for name in _IMPORTS)
        head = f"package main\n\nimport (\n{imports})\n\n"
        doc = docstring.strip("\n")
        if doc:
            head += self.comment(doc)
        params = ", ".join(f"{self.identifier(p.name)} {self.render_type(p.type)}" for p in sig.params)
        ret = "" if isinstance(sig.returns, NoneType) else " " + self.render_type(sig.returns)
        return head + f"func {self.identifier(sig.name)}({params}){ret} {{\n"

    def harness(self, sig: Signature, tests: Sequence[TestCase]) -> str:
        self.refuse_any_result(sig)
        fn = self.identifier(sig.name)
        void = isinstance(sig.returns, NoneType)
        ret = self.render_type(sig.returns)
        enc = self._encoder(sig.returns)
        reports = []
        for i, t in enumerate(tests):
            call = f"{fn}(" + ", ".join(self.render_value(a, p.type) for a, p in zip(t.args, sig.params)) + ")"
            body = f"{call}; return struct{{}}{{}}" if void else f"return {call}"
            reports.append(f"\txplReport[{ret}](xplNonce, {i}, func() {ret} {{ {body} }}, {enc})\n")
        return (
            "\n"
            + _IMPORT_USES
            + _VALUE_PRELUDE
            + "\nfunc main() {\n"
            + '\txplNonce, ok := os.LookupEnv("XPL_NONCE")\n'
            + "\tif !ok {\n"
            + '\t\txplNonce = "-"\n'
            + "\t}\n"
            + "".join(reports)
            + '\tfmt.Printf("\\n@@xpl %s done\\n", xplNonce)\n'
            + "}\n"
        )

    def _encoder(self, typ: Type) -> str:
        """A Go expression of type ``func(*strings.Builder, T)`` writing a ``typ`` as JSON."""
        if any(isinstance(t, AnyType) for t in typ.walk()):
            raise self.unsupported("Any in the result type (harnesses write results of known types only)")
        if _dynamic(typ):
            # The member the value's dynamic type is; nil only where the union is optional.
            none = 'case nil: b.WriteString("null"); ' if isinstance(typ, OptionalType) else ""
            cases = "".join(f"case {self.render_type(m)}: {self._encoder(m)}(b, x); " for m in _members(typ))
            invalid = 'default: b.WriteString(`{"invalid":"`); b.WriteString(strings.Map(xplLetter, fmt.Sprintf("%T", v))); b.WriteString(`"}`)'
            return f"func(b xplOut, v interface{{}}) {{ switch x := v.(type) {{ {none}{cases}{invalid} }} }}"
        simple = {IntType: "xplJsonInt", FloatType: "xplJsonFloat", BoolType: "xplJsonBool", StrType: "xplJsonString", NoneType: "xplJsonNone"}
        if type(typ) in simple:
            return simple[type(typ)]
        if isinstance(typ, ListType):
            return f"xplJsonSlice[{self.render_type(typ.elem)}]({self._encoder(typ.elem)})"
        if isinstance(typ, DictType):
            k, v = self.render_type(typ.key), self.render_type(typ.value)
            return f"xplJsonMap[{k}, {v}]({self._encoder(typ.key)}, {self._encoder(typ.value)})"
        if isinstance(typ, OptionalType):
            return f"xplJsonPtr[{self.render_type(typ.inner)}]({self._encoder(typ.inner)})"
        if isinstance(typ, TupleType):
            t = self.render_type(typ)
            if not typ.elems:
                return f'func(b xplOut, v {t}) {{ b.WriteString("[]") }}'
            if typ.homogeneous:
                elem = typ.elems[0]
                each = f"xplJsonSlice[{self.render_type(elem)}]({self._encoder(elem)})"
                return f"func(b xplOut, v {t}) {{ {each}(b, v[:]) }}"
            fields = "; b.WriteByte(','); ".join(f"{self._encoder(e)}(b, v.F{k})" for k, e in enumerate(typ.elems))
            return f"func(b xplOut, v {t}) {{ b.WriteByte('['); {fields}; b.WriteByte(']') }}"
        raise self.unsupported(f"type {typ!r}")

    def multipl_e_form(self, prompt: str, tests: str) -> tuple[str, str, str]:
        # MultiPL-E runs Go programs as `go test FILE_test.go` (its language name says so) and
        # judges by "FAIL" in the output, never running main: the prompt imports "testing" and
        # a test calls the harness's main, whose os.Exit(1) on a failed check fails it.
        if '\nimport (\n' not in prompt:
            raise self.unsupported("the prompt has no import block to add \"testing\" to")
        prompt = prompt.replace('\nimport (\n', '\nimport (\n\t"testing"\n', 1)
        return "go_test.go", prompt, tests + "\nfunc TestXplChecks(t *testing.T) { main() }\n"

    def check_harness(self, sig: Signature, tests: Sequence[TestCase]) -> str:
        self.refuse_any_result(sig)
        fn = self.identifier(sig.name)
        void = isinstance(sig.returns, NoneType)
        ret = self.render_type(sig.returns)
        eq = self._equality(sig.returns)
        checks = []
        for i, t in enumerate(tests):
            call = f"{fn}(" + ", ".join(self.render_value(a, p.type) for a, p in zip(t.args, sig.params)) + ")"
            body = f"{call}; return struct{{}}{{}}" if void else f"return {call}"
            want = self.render_value(t.expected, sig.returns)
            checks.append(
                f"\tif !xplCheck[{ret}](xplNonce, {i}, func() {ret} {{ {body} }}, {want}, {eq}) {{\n"
                "\t\txplFailed++\n"
                "\t}\n"
            )
        return (
            "\n"
            + _IMPORT_USES
            + _HARNESS_PRELUDE
            + "\nfunc main() {\n"
            + '\txplNonce, ok := os.LookupEnv("XPL_NONCE")\n'
            + "\tif !ok {\n"
            + '\t\txplNonce = "-"\n'
            + "\t}\n"
            + "\txplFailed := 0\n"
            + "".join(checks)
            + '\tfmt.Printf("\\n@@xpl %s done\\n", xplNonce)\n'
            + "\tif xplFailed > 0 {\n"
            + "\t\tos.Exit(1)\n"
            + "\t}\n"
            + "}\n"
        )


def _dynamic(typ: Type) -> bool:
    """A union or Any, or an Optional of one: an ``interface{}`` in Go."""
    return isinstance(typ.inner if isinstance(typ, OptionalType) else typ, (UnionType, AnyType))


def _members(typ: Type) -> tuple[Type, ...]:
    inner = typ.inner if isinstance(typ, OptionalType) else typ
    return inner.members if isinstance(inner, UnionType) else ()
