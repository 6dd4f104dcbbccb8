"""C++17 with g++, MultiPL-E style.

Prompts are MultiPL-E's: ``#include<assert.h>`` and ``#include<bits/stdc++.h>``, the docstring
as ``//`` comments, then ``long name(long a, ...) {``; the model writes the body and the
``"\\n}"`` stop sequence cuts the closing brace, which ``completion_suffix`` restores. Types
are MultiPL-E's (``long``, ``bool``, ``std::string``, ``std::vector``, ``std::tuple``,
``std::map``, ``std::optional``) except for floats: MultiPL-E used ``float``, xpl uses
``double`` so that a float survives the round trip through the harness exactly (Python floats
are doubles; a ``float`` would lose digits before the 1e-6 tolerance even applies).

Compiling. Most of g++'s time on such a program goes into parsing ``<bits/stdc++.h>``. Every
program is therefore compiled with that header *pre-included* (``-include bits/stdc++.h``)
from a precompiled header (PCH), which cuts the CPU time of a small program with its harness
from about 1.3 s to 0.4 s (compile and link). The PCH is built once per compiler, flag set and
library version, in the host process at plan time (its only input is the standard library,
never a candidate), into ``$XPL_CACHE/cpp-pch/<key>/bits/`` next to a copy of the header it
was made from. That directory is a toolchain root, which the sandbox mounts read-only. g++
searches it first (``-I``), so the pre-include finds ``stdc++.h.gch`` and the prompt's own
``#include<bits/stdc++.h>`` finds the copy (every header it includes is already in, so it
costs nothing). If the PCH cannot be used (not built, unreadable, or rejected by g++, which
``-Winvalid-pch`` reports) g++ reads the header itself: slower, same result.

``plan_single`` and ``plan_batch`` compile with the same flags, so a program behaves the same
in both. Pre-including differs from plain ``g++ main.cpp`` only for a program that defines a
configuration macro (``_GLIBCXX_DEBUG``, ``_GLIBCXX_ASSERTIONS`` ...) *before* its first
include: the library is already in by then (``NDEBUG`` still works: ``<cassert>`` re-reads
it). MultiPL-E prompts include ``<bits/stdc++.h>`` on their second line, so for them there is
no difference.

Batching. C++ programs cannot share a binary (one program's global constructors, ``main`` and
macros would leak into the others), so each candidate stays its own translation unit and its
own executable. A batch is one ``g++ -c c0.cpp c1.cpp ...`` call, which compiles every file
even when some fail, so one failed batch compile names all broken candidates at once (their
diagnostics carry ``cN.cpp:line:col``), followed by one link per candidate (``cN.o`` ->
``cN``; with GNU gold where binutils ships it, in the single plan too). The only differences from a standalone build are the names: ``__FILE__`` (and so
``assert`` messages) says ``cN.cpp`` instead of ``main.cpp``, and ``argv[0]`` ends in ``cN``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Sequence

from xpl.languages.chat import rename_entry_point

from xpl.languages.base import (
    BUILD,
    cache_dir,
    BuildPlan,
    Language,
    RunSpec,
    Toolchain,
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
    union_member,
)

log = logging.getLogger("xpl.languages.cpp")

# MultiPL-E compiled with -std=c++17 and no optimisation; -O0 also compiles fastest.
_FLAGS = ("-std=c++17", "-O0")
_HEADER = "bits/stdc++.h"
_INCLUDES = "#include<assert.h>\n#include<bits/stdc++.h>\n"

_KEYWORDS = frozenset(
    "alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t char32_t "
    "class compl concept const consteval constexpr constinit const_cast continue co_await co_return co_yield "
    "decltype default delete do double dynamic_cast else enum explicit export extern false float for friend "
    "goto if import inline int long module mutable namespace new noexcept not not_eq nullptr operator or or_eq "
    "private protected public register reinterpret_cast requires return short signed sizeof static "
    "static_assert static_cast struct switch template this thread_local throw true try typedef typeid "
    "typename union unsigned using virtual void volatile wchar_t while xor xor_eq".split()
)
# Not keywords, but unusable as names here: `main` is the harness's, `std` the library's, and
# the rest are macros from <bits/stdc++.h> that would be expanded in place of the name.
_RESERVED = _KEYWORDS | frozenset("main std assert errno stdin stdout stderr NULL EOF".split())

# Deep equality mirroring ``xpl.languages.types.values_equal``, a printer for diagnostics, and
# the test driver. Class templates specialised per type (rather than overloaded functions) so
# that nested containers find their element's specialisation whatever the declaration order.
_HARNESS_PRELUDE = r"""
namespace xpl_harness {

template <typename T> struct Eq {
    static bool eq(const T& a, const T& b) { return a == b; }
};
template <> struct Eq<double> {
    static bool eq(double a, double b) {
        if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
        if (std::isinf(a) || std::isinf(b)) return a == b;
        return std::fabs(a - b) <= std::max(1e-6 * std::max(std::fabs(a), std::fabs(b)), 1e-9);
    }
};
template <typename T> struct Eq<std::vector<T>> {
    static bool eq(const std::vector<T>& a, const std::vector<T>& b) {
        if (a.size() != b.size()) return false;
        for (std::size_t i = 0; i < a.size(); ++i)
            if (!Eq<T>::eq(a[i], b[i])) return false;
        return true;
    }
};
template <typename K, typename V> struct Eq<std::map<K, V>> {
    // Keys compare exactly (as Python's dict keys do); both maps are sorted the same way.
    static bool eq(const std::map<K, V>& a, const std::map<K, V>& b) {
        if (a.size() != b.size()) return false;
        for (auto i = a.begin(), j = b.begin(); i != a.end(); ++i, ++j)
            if (!(i->first == j->first) || !Eq<V>::eq(i->second, j->second)) return false;
        return true;
    }
};
template <typename T> struct Eq<std::optional<T>> {
    static bool eq(const std::optional<T>& a, const std::optional<T>& b) {
        if (a.has_value() != b.has_value()) return false;
        return !a.has_value() || Eq<T>::eq(*a, *b);
    }
};
template <typename... T> struct Eq<std::tuple<T...>> {
    static bool eq(const std::tuple<T...>& a, const std::tuple<T...>& b) {
        return each(a, b, std::index_sequence_for<T...>{});
    }
    template <std::size_t... I>
    static bool each(const std::tuple<T...>& a, const std::tuple<T...>& b, std::index_sequence<I...>) {
        return (true && ... && Eq<T>::eq(std::get<I>(a), std::get<I>(b)));
    }
};

template <typename... T> struct Eq<std::variant<T...>> {
    // The same alternative, with equal values (the alternatives' types are distinct).
    static bool eq(const std::variant<T...>& a, const std::variant<T...>& b) {
        if (a.index() != b.index() || a.valueless_by_exception()) return false;
        return std::visit([&b](const auto& x) {
            using X = std::decay_t<decltype(x)>;
            return Eq<X>::eq(x, std::get<X>(b));
        }, a);
    }
};

template <typename T> struct Show {
    static void put(std::ostream& o, const T& v) { o << v; }
};
template <> struct Show<double> {
    static void put(std::ostream& o, double v) { o << std::setprecision(17) << v; }
};
template <> struct Show<bool> {
    static void put(std::ostream& o, bool v) { o << (v ? "true" : "false"); }
};
template <> struct Show<std::string> {
    static void put(std::ostream& o, const std::string& v) { o << std::quoted(v); }
};
template <typename T> struct Show<std::vector<T>> {
    static void put(std::ostream& o, const std::vector<T>& v) {
        o << '[';
        for (std::size_t i = 0; i < v.size(); ++i) {
            if (i) o << ", ";
            Show<T>::put(o, v[i]);
        }
        o << ']';
    }
};
template <typename K, typename V> struct Show<std::map<K, V>> {
    static void put(std::ostream& o, const std::map<K, V>& m) {
        o << '{';
        const char* sep = "";
        for (const auto& kv : m) {
            o << sep;
            Show<K>::put(o, kv.first);
            o << ": ";
            Show<V>::put(o, kv.second);
            sep = ", ";
        }
        o << '}';
    }
};
template <typename T> struct Show<std::optional<T>> {
    static void put(std::ostream& o, const std::optional<T>& v) {
        if (v) Show<T>::put(o, *v); else o << "None";
    }
};
template <typename... T> struct Show<std::tuple<T...>> {
    static void put(std::ostream& o, const std::tuple<T...>& v) {
        o << '(';
        each(o, v, std::index_sequence_for<T...>{});
        o << ')';
    }
    template <std::size_t... I>
    static void each(std::ostream& o, const std::tuple<T...>& v, std::index_sequence<I...>) {
        ((o << (I ? ", " : ""), Show<T>::put(o, std::get<I>(v))), ...);
    }
};

template <typename... T> struct Show<std::variant<T...>> {
    static void put(std::ostream& o, const std::variant<T...>& v) {
        if (v.valueless_by_exception()) { o << "(valueless)"; return; }
        std::visit([&o](const auto& x) { Show<std::decay_t<decltype(x)>>::put(o, x); }, v);
    }
};

class Runner {
  public:
    Runner() {
        const char* n = std::getenv("XPL_NONCE");
        nonce_ = n ? n : "-";
    }

    template <typename R, typename F> void expect(int i, F call, const R& expected) {
        try {
            R got = call();
            if (Eq<R>::eq(got, expected)) return report(i, "pass");
            std::ostringstream msg;
            msg << "test " << i << ": expected ";
            Show<R>::put(msg, expected);
            msg << ", got ";
            Show<R>::put(msg, got);
            std::fprintf(stderr, "%s\n", msg.str().c_str());
            report(i, "fail");
        } catch (...) {
            error(i);
        }
    }

    template <typename F> void expect_void(int i, F call) {
        try {
            call();
            report(i, "pass");
        } catch (...) {
            error(i);
        }
    }

    int finish() {
        std::printf("\n@@xpl %s done\n", nonce_.c_str());
        std::fflush(stdout);
        return failed_ ? 1 : 0;
    }

  private:
    void report(int i, const char* outcome) {
        if (std::strcmp(outcome, "pass") != 0) ++failed_;
        std::printf("\n@@xpl %s %d %s\n", nonce_.c_str(), i, outcome);
        std::fflush(stdout);
    }

    // Called inside a catch handler: rethrows the current exception to describe it.
    void error(int i) {
        try {
            throw;
        } catch (const std::exception& e) {
            std::fprintf(stderr, "test %d: exception: %s\n", i, e.what());
        } catch (const char* s) {
            std::fprintf(stderr, "test %d: exception: %s\n", i, s);
        } catch (const std::string& s) {
            std::fprintf(stderr, "test %d: exception: %s\n", i, s.c_str());
        } catch (...) {
            std::fprintf(stderr, "test %d: exception of unknown type\n", i);
        }
        report(i, "error");
    }

    std::string nonce_;
    int failed_ = 0;
};

}  // namespace xpl_harness
"""

# The harness of the value protocol: each result written as JSON by ``Json<T>``, specialised
# per type as ``Eq`` above is. String bytes are written as they are apart from quotes,
# backslashes and control characters (the engine reads invalid UTF-8 as such).
_VALUE_PRELUDE = r"""
namespace xpl_values {

template <typename T> struct Json {
    static void put(std::string& o, const T& v) { o += std::to_string(v); }
};
template <> struct Json<double> {
    static void put(std::string& o, double v) {
        if (std::isnan(v)) { o += "\"nan\""; return; }
        if (std::isinf(v)) { o += v > 0 ? "\"inf\"" : "\"-inf\""; return; }
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.17g", v);
        o += buf;
    }
};
template <> struct Json<bool> {
    static void put(std::string& o, bool v) { o += v ? "true" : "false"; }
};
template <> struct Json<std::string> {
    static void put(std::string& o, const std::string& v) {
        o += '"';
        for (char c : v) {
            unsigned char u = static_cast<unsigned char>(c);
            if (c == '"' || c == '\\') {
                o += '\\';
                o += c;
            } else if (u < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", u);
                o += buf;
            } else {
                o += c;
            }
        }
        o += '"';
    }
};
template <typename T> struct Json<std::vector<T>> {
    static void put(std::string& o, const std::vector<T>& v) {
        o += '[';
        for (std::size_t i = 0; i < v.size(); ++i) {
            if (i) o += ',';
            Json<T>::put(o, v[i]);
        }
        o += ']';
    }
};
template <typename K, typename V> struct Json<std::map<K, V>> {
    static void put(std::string& o, const std::map<K, V>& m) {
        o += '[';
        const char* sep = "[";
        for (const auto& kv : m) {
            o += sep;
            Json<K>::put(o, kv.first);
            o += ',';
            Json<V>::put(o, kv.second);
            o += ']';
            sep = ",[";
        }
        o += ']';
    }
};
template <typename T> struct Json<std::optional<T>> {
    static void put(std::string& o, const std::optional<T>& v) {
        if (v) Json<T>::put(o, *v); else o += "null";
    }
};
template <typename... T> struct Json<std::tuple<T...>> {
    static void put(std::string& o, const std::tuple<T...>& v) {
        o += '[';
        each(o, v, std::index_sequence_for<T...>{});
        o += ']';
    }
    template <std::size_t... I>
    static void each(std::string& o, const std::tuple<T...>& v, std::index_sequence<I...>) {
        ((o += (I ? "," : ""), Json<T>::put(o, std::get<I>(v))), ...);
    }
};

template <typename... T> struct Json<std::variant<T...>> {
    // The alternative's value (a valueless variant throws bad_variant_access: an error).
    static void put(std::string& o, const std::variant<T...>& v) {
        std::visit([&o](const auto& x) { Json<std::decay_t<decltype(x)>>::put(o, x); }, v);
    }
};

class Reporter {
  public:
    Reporter() {
        const char* n = std::getenv("XPL_NONCE");
        nonce_ = n ? n : "-";
    }

    template <typename R, typename F> void value(int i, F call) {
        std::string line = "value ";
        try {
            R got = call();
            Json<R>::put(line, got);
        } catch (...) {
            return error(i);
        }
        report(i, line);
    }

    template <typename F> void none(int i, F call) {
        try {
            call();
        } catch (...) {
            return error(i);
        }
        report(i, "value null");
    }

    int finish() {
        std::printf("\n@@xpl %s done\n", nonce_.c_str());
        std::fflush(stdout);
        return 0;
    }

  private:
    void report(int i, const std::string& line) {
        std::printf("\n@@xpl %s %d %s\n", nonce_.c_str(), i, line.c_str());
        std::fflush(stdout);
    }

    // Called inside a catch handler: rethrows the current exception to describe it.
    void error(int i) {
        try {
            throw;
        } catch (const std::exception& e) {
            std::fprintf(stderr, "test %d: exception: %s\n", i, e.what());
        } catch (...) {
            std::fprintf(stderr, "test %d: exception\n", i);
        }
        report(i, "error");
    }

    std::string nonce_;
};

}  // namespace xpl_values
"""


class _CxxEscape:
    """Escapes for characters a C++ string literal cannot hold as themselves.

    Control characters become 3-digit octal escapes (never longer, so a following digit
    cannot be swallowed, unlike ``\\x``); other code points become universal character
    names, which g++ encodes as UTF-8.
    """

    def format(self, cp: int) -> str:
        if cp < 0x80:
            return f"\\{cp:03o}"
        if 0xD800 <= cp <= 0xDFFF:
            raise ValueError("a lone surrogate has no UTF-8 encoding")
        return f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}"


def _cache_dir() -> Path:
    return cache_dir() / "cpp-pch"


_pch_lock = threading.Lock()
_pch_dirs: dict[str, Path | None] = {}


class Cpp(Language):
    name = "cpp"
    display_name = "C++"
    aliases = ("cpp", "c++", "cxx")
    extension = "cpp"
    compiled = True
    tools = (("g++", ("g++",), ("--version",)),)
    apt_packages = ("g++",)
    # No compiler work is shared between candidates (see the module docstring): a batch only
    # saves sandbox start-ups and reports every broken candidate at once. 32 programs take
    # about 15 s of CPU, well inside the compile timeout.
    batch_size = 32
    shared_compile = False
    assertion_patterns = (r"Assertion `.*' failed\.",)
    # operator new failing (caught by the harness, or uncaught), or the loader unable to map
    # libstdc++ under the memory limit.
    memory_error_patterns = (r"\bstd::bad_alloc\b", r"failed to map segment from shared object")
    stop_sequences = ("\n}",)
    completion_suffix = "\n}\n"
    return_template = "    return {};\n"
    comment_prefix = "//"
    reserved_words = _RESERVED
    scalar_type_names = {
        IntType: "long",
        FloatType: "double",
        BoolType: "bool",
        StrType: "std::string",
        NoneType: "void",
    }
    float_specials = (
        "std::numeric_limits<double>::quiet_NaN()",
        "std::numeric_limits<double>::infinity()",
        "-std::numeric_limits<double>::infinity()",
    )

    def refine_toolchain(self, paths: dict[str, str]) -> tuple[dict[str, str], list[str]]:
        # GNU gold links one of these programs in about a third of ld.bfd's time (15 ms
        # against 45 here, a sixth of a program's whole build): used where binutils ships it
        # (Debian's does), the default linker otherwise. The executable behaves the same.
        gold = shutil.which("ld.gold")
        if gold:
            paths = {**paths, "ld.gold": os.path.realpath(gold)}
        # The PCH directory must be visible (read-only) to the compiler inside the sandbox.
        return paths, [str(_cache_dir())]

    def link_flags(self, tc: Toolchain) -> list[str]:
        """``-fuse-ld=gold`` where gold was found (``refine_toolchain``)."""
        return ["-fuse-ld=gold"] if "ld.gold" in tc.paths else []

    # ----------------------------------------------------------------- building
    def compile_flags(self, tc: Toolchain) -> list[str]:
        """Flags of every compilation: the language level, and ``<bits/stdc++.h>`` pre-included
        (from the precompiled header when there is one)."""
        pch = self.precompiled_header_dir(tc)
        return [*_FLAGS, "-Winvalid-pch", *(["-I", str(pch)] if pch else []), "-include", _HEADER]

    def plan_single(self, source: str, tc: Toolchain) -> BuildPlan:
        gxx = tc.tool("g++")
        command = [gxx, *self.compile_flags(tc), *self.link_flags(tc), "-o", "main", "main.cpp"]
        return BuildPlan({"main.cpp": source}, [command], [RunSpec([f"{BUILD}/main"])], {"main.cpp": 0})

    def plan_batch(self, sources: Sequence[str], tc: Toolchain) -> BuildPlan:
        gxx = tc.tool("g++")
        names = [f"c{i}" for i in range(len(sources))]
        files = {f"{n}.cpp": src for n, src in zip(names, sources)}
        commands = [[gxx, *self.compile_flags(tc), "-c", *files]]
        commands += [[gxx, *self.link_flags(tc), "-o", n, f"{n}.o"] for n in names]
        runs = [RunSpec([f"{BUILD}/{n}"]) for n in names]
        # g++ -c goes on past a broken file and each link is separate: a broken candidate
        # leaves the others' binaries intact (see BuildPlan.keep_going).
        return BuildPlan(files, commands, runs, {f"{n}.cpp": i for i, n in enumerate(names)}, keep_going=True)

    def batch_failure_is_final(self, sources: Sequence[str], index: int) -> bool:
        # Every candidate is its own translation unit, compiled with the single plan's flags and
        # linked alone: a failure in the batch is exactly the failure it has by itself.
        return True

    def reference_plan(self, source: str, tc: Toolchain) -> BuildPlan:
        # MultiPL-E's evaluator: plain `g++ -std=c++17`, no precompiled header.
        command = [tc.tool("g++"), "-std=c++17", "-o", "main", "main.cpp"]
        return BuildPlan({"main.cpp": source}, [command], [RunSpec([f"{BUILD}/main"])], {"main.cpp": 0})

    def blame(self, diagnostics: str, plan: BuildPlan) -> set[int]:
        # Compile errors name cN.cpp; link errors (an undefined function) name cN.o.
        hits = super().blame(diagnostics, plan)
        for path, owner in plan.owners.items():
            obj = re.escape(path.removesuffix(".cpp") + ".o")
            if re.search(r"(^|[\s/'\"(])" + obj + r"\b", diagnostics, re.MULTILINE):
                hits.add(owner)
        return hits

    def precompiled_header_dir(self, tc: Toolchain) -> Path | None:
        """The directory holding ``bits/stdc++.h.gch`` for this compiler, built on first use.

        None when it cannot be built (no writable cache directory, say); programs then compile
        without it, more slowly. Safe when several processes race: each builds in a private
        directory and renames it into place, and the losers discard theirs.
        """
        gxx = tc.tool("g++")
        with _pch_lock:
            if gxx not in _pch_dirs:
                try:
                    _pch_dirs[gxx] = _build_pch(gxx, tc.version)
                except (OSError, subprocess.SubprocessError, ValueError) as exc:
                    log.warning("C++: no precompiled header, programs will compile slowly: %s", exc)
                    _pch_dirs[gxx] = None
            return _pch_dirs[gxx]

    # ----------------------------------------------------------------- rendering
    def render_type(self, typ: Type) -> str:
        scalar = self.scalar_type_name(typ)
        if scalar is not None:
            return scalar
        if isinstance(typ, ListType):
            return f"std::vector<{self._element_type(typ.elem)}>"
        if isinstance(typ, TupleType):
            return f"std::tuple<{', '.join(self._element_type(e) for e in typ.elems)}>"
        if isinstance(typ, DictType):
            return f"std::map<{self._element_type(typ.key)}, {self._element_type(typ.value)}>"
        if isinstance(typ, OptionalType):
            return f"std::optional<{self._element_type(typ.inner)}>"
        if isinstance(typ, UnionType):
            return f"std::variant<{', '.join(self._element_type(m) for m in typ.members)}>"
        if isinstance(typ, AnyType):
            return "std::any"
        raise self.unsupported(f"type {typ!r}")

    def _element_type(self, typ: Type) -> str:
        if isinstance(typ, NoneType):
            raise self.unsupported("None inside a container has no C++ type (void is not a value)")
        return self.render_type(typ)

    def supports(self, sig: Signature) -> str | None:
        for p in sig.params:
            if isinstance(p.type, NoneType):
                return f"parameter {p.name!r} has type None (a C++ parameter cannot be void)"
        return super().supports(sig)

    def render_value(self, value: Any, typ: Type) -> str:
        if isinstance(typ, OptionalType):
            inner = self.render_type(typ)
            return f"{inner}()" if value is None else f"{inner}({self.render_value(value, typ.inner)})"
        if isinstance(typ, UnionType):
            # The alternative by index: a bare 1 would be ambiguous between long and double.
            member = union_member(typ, value)
            index = typ.members.index(member)
            return f"{self.render_type(typ)}(std::in_place_index<{index}>, {self.render_value(value, member)})"
        if isinstance(typ, AnyType):
            dyn = dynamic_type(value)  # the held type is explicit: a bare 4 would be an int
            return f"std::make_any<{self.render_type(dyn)}>({self.render_value(value, dyn)})"
        if isinstance(typ, IntType):
            self.check_int(value)
            # -9223372036854775808 is `-` applied to a literal too large for long.
            return "LONG_MIN" if value == INT_MIN else str(int(value))
        if isinstance(typ, FloatType):
            return self.float_literal(value)
        if isinstance(typ, BoolType):
            return "true" if value else "false"
        if isinstance(typ, StrType):
            return self._string(value)
        if isinstance(typ, ListType):
            if not value:
                return f"{self.render_type(typ)}()"
            return f"{self.render_type(typ)}({{{', '.join(self.render_value(v, typ.elem) for v in value)}}})"
        if isinstance(typ, TupleType):
            items = ", ".join(self.render_value(v, t) for v, t in zip(value, typ.elems))
            return f"{self.render_type(typ)}({items})"
        if isinstance(typ, DictType):
            if not value:
                return f"{self.render_type(typ)}()"
            pairs = ", ".join(
                f"{{{self.render_value(k, typ.key)}, {self.render_value(v, typ.value)}}}" for k, v in value.items()
            )
            return f"{self.render_type(typ)}({{{pairs}}})"
        raise self.unsupported(f"value {value!r} of type {typ!r}")

    def _string(self, s: str) -> str:
        try:
            # `?` is escaped so that no `??x` trigraph can form, whatever the language level.
            literal = escape_string(s, extra={"?": "\\?"}, unicode=_CxxEscape())
        except ValueError as exc:
            raise self.unsupported(f"string {s!r}: {exc}") from exc
        if "\0" in s:
            # The (const char*) constructor would stop at the first NUL: give the length.
            return f"std::string({literal}, {len(s.encode('utf-8'))})"
        return f"std::string({literal})"

    def split_reply(self, code: str, sig: Signature) -> tuple[list[str], str]:
        # Includes may stay where the reply wrote them; its own main becomes an uncalled
        # function, so the harness's main is the program's entry point.
        return [], rename_entry_point(code, r"\bint\s+main\s*\(", "int xpl_user_main(")

    def prompt(self, sig: Signature, docstring: str) -> str:
        params = ", ".join(f"{self.render_type(p.type)} {self.identifier(p.name)}" for p in sig.params)
        head = f"{self.render_type(sig.returns)} {self.identifier(sig.name)}({params}) {{\n"
        return _INCLUDES + self._docstring(docstring) + head

    def _docstring(self, docstring: str) -> str:
        if not docstring.strip():
            return ""
        # A comment line ending in a backslash would continue onto the next line, swallowing
        # it (g++ splices even across trailing blanks): end such lines with an empty comment.
        return "".join(
            ln + " //\n" if ln.rstrip().endswith("\\") else ln + "\n" for ln in self.comment(docstring).splitlines()
        )

    def harness(self, sig: Signature, tests: Sequence[TestCase]) -> str:
        self.refuse_any_result(sig)
        fn = self.identifier(sig.name)
        lines = []
        for i, t in enumerate(tests):
            args = ", ".join(self.render_value(a, p.type) for a, p in zip(t.args, sig.params))
            if isinstance(sig.returns, NoneType):
                lines.append(f"    xpl_run.none({i}, [] {{ {fn}({args}); }});\n")
            else:
                lines.append(f"    xpl_run.value<{self.render_type(sig.returns)}>({i}, [] {{ return {fn}({args}); }});\n")
        return (
            _VALUE_PRELUDE
            + "\nint main() {\n    xpl_values::Reporter xpl_run;\n"
            + "".join(lines)
            + "    return xpl_run.finish();\n}\n"
        )

    def check_harness(self, sig: Signature, tests: Sequence[TestCase]) -> str:
        self.refuse_any_result(sig)
        fn = self.identifier(sig.name)
        lines = []
        for i, t in enumerate(tests):
            args = ", ".join(self.render_value(a, p.type) for a, p in zip(t.args, sig.params))
            if isinstance(sig.returns, NoneType):
                lines.append(f"    xpl_run.expect_void({i}, [] {{ {fn}({args}); }});\n")
            else:
                ret = self.render_type(sig.returns)
                expected = self.render_value(t.expected, sig.returns)
                lines.append(f"    xpl_run.expect<{ret}>({i}, [] {{ return {fn}({args}); }}, {expected});\n")
        return (
            _HARNESS_PRELUDE
            + "\nint main() {\n    xpl_harness::Runner xpl_run;\n"
            + "".join(lines)
            + "    return xpl_run.finish();\n}\n"
        )


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _command(argv: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False)
    if proc.returncode != 0:
        raise ValueError(f"`{' '.join(argv)}` failed: {(proc.stderr or proc.stdout).strip()[-2000:]}")
    return proc


def _header_files(gxx: str) -> list[str]:
    """Every file ``#include <bits/stdc++.h>`` reads, as g++'s dependency list names them."""
    proc = subprocess.run(
        [gxx, *_FLAGS, "-x", "c++", "-M", "-"],
        input=f"#include <{_HEADER}>\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise ValueError(f"g++ does not find <{_HEADER}>: {proc.stderr.strip()[-2000:]}")
    return proc.stdout.replace("\\\n", " ").split()[1:]  # after the target, "-:"


def _build_pch(gxx: str, version: str) -> Path:
    files = _header_files(gxx)
    header = next((Path(f) for f in files if f.endswith("/" + _HEADER)), None)
    if header is None:
        raise ValueError(f"g++ reads no {_HEADER} for #include <{_HEADER}>")
    source = header.read_bytes()
    # g++ checks that a PCH comes from the same compiler and flags, not that the headers it
    # was made from are unchanged: the key covers them (a library update gets a new PCH).
    cc1plus = _command([gxx, "-print-prog-name=cc1plus"]).stdout.strip()
    stamps = [(f, st.st_size, st.st_mtime_ns) for f in [cc1plus, *files] if (st := _stat(f))]
    key = hashlib.sha256(repr([gxx, version, _FLAGS, stamps]).encode()).hexdigest()[:16]
    root = _cache_dir()
    final = root / key
    if (final / (_HEADER + ".gch")).is_file():
        return final
    root.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_builds(root)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root))
    try:
        copy = tmp / _HEADER
        copy.parent.mkdir(parents=True)
        copy.write_bytes(source)
        _command([gxx, *_FLAGS, "-x", "c++-header", str(copy), "-o", f"{copy}.gch"])
        # Make sure g++ accepts it: `-H` marks a used PCH with `!`.
        probe = tmp / "probe.cpp"
        probe.write_text("int main() { return 0; }\n")
        used = _command([gxx, *_FLAGS, "-H", "-fsyntax-only", "-I", str(tmp), "-include", _HEADER, str(probe)])
        if f"! {copy}.gch" not in used.stderr:
            raise ValueError(f"g++ does not use the precompiled header it built:\n{used.stderr[-2000:]}")
        probe.unlink()
        # The compiler runs under another uid in the sandbox; mkdtemp made the directory private.
        for d in (tmp, copy.parent):
            os.chmod(d, 0o755)
        for f in (copy, Path(f"{copy}.gch")):
            os.chmod(f, 0o644)
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / (_HEADER + ".gch")).is_file():
                raise  # not a lost race: a real failure
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _remove_abandoned_builds(root: Path, age_s: float = 3600) -> None:
    """Temporary build directories of processes that were killed mid-build (a build takes
    seconds, so one older than an hour is nobody's)."""
    now = time.time()
    for d in root.glob(".*-*"):
        st = _stat(str(d))
        if st and now - st.st_mtime > age_s:
            shutil.rmtree(d, ignore_errors=True)


__all__ = ["Cpp"]
