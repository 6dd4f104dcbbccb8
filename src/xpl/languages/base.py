"""The interface every programming-language module implements.

A language module owns everything that is specific to one PL:

* its toolchain: which executables it needs, how to find them and their version, which
  directories the sandbox must expose read-only for them to work (``detect``);
* how programs are built and run: a ``BuildPlan`` for one program (``plan_single``) and,
  where the PL allows, for many programs in one compiler invocation (``plan_batch``);
* how to read a failed run: patterns for syntax, assertion and out-of-memory errors;
* how problems are written in it: types, literals, the prompt (signature + docstring as a
  comment), the stop sequences, and the test harness.

The harness protocol (shared by every PL, judged by the execution engine): the harness holds
each test's arguments but never its expected result. For each test case ``i`` (0-based) it
calls the function and writes to standard output, flushing immediately, either::

    \\n@@xpl <nonce> <i> value <json>\\n     (the call returned)
    \\n@@xpl <nonce> <i> error\\n            (the call raised)

where ``<nonce>`` is the value of the environment variable ``XPL_NONCE`` (``-`` when unset) and
``<json>`` is the result on one line in the problem JSON encoding, following the declared
return type (floats as numbers or ``"nan"``/``"inf"``/``"-inf"``, tuples as arrays, dicts as
arrays of ``[key, value]`` pairs, None as ``null``; strings with ``"``, ``\\`` and control
characters escaped) or, for a result that is not of that type, ``{"invalid": ...}``. After the
last test it writes ``\\n@@xpl <nonce> done\\n`` and exits with status 0. The engine compares
each value with the expected one outside the sandbox (``xpl.execution.verdict``): deeply,
floats with ``types.floats_close`` (relative 1e-6, absolute 1e-9), dicts in any order. The
nonce only keeps stray output from looking like the harness; it is no secret, and it need not
be: a line passes a test only when it carries that test's right answer, and a test reported
twice fails.

``check_harness`` renders the older self-checking harness (expected values inside, ``@@xpl
<nonce> <i> pass|fail|error`` lines, exit status 1 when a test failed), which is what a
MultiPL-E export needs: MultiPL-E programs judge themselves by their exit status.
"""

from __future__ import annotations

import functools
import math
import os
import re
import shutil
import subprocess
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Sequence

from xpl.languages.types import (
    INT_MAX,
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
    UnsupportedError,
)

HARNESS_MARKER = "@@xpl"
NONCE_ENV = "XPL_NONCE"

# Placeholder for the build directory in run commands; the engine substitutes the path at
# which the build directory is visible to the program (inside or outside the sandbox).
BUILD = "{build}"

# Directories that are part of every sandbox view anyway; toolchains found here need no mount.
SYSTEM_PREFIXES = ("/usr/", "/bin/", "/sbin/", "/lib/", "/lib64/", "/etc/")


class ToolchainMissing(RuntimeError):
    """A PL was asked to build or run code but its toolchain is not installed."""


@dataclass(frozen=True)
class Toolchain:
    """What was found on this machine for one PL."""

    language: str
    available: bool
    paths: dict[str, str] = field(default_factory=dict)  # tool -> resolved absolute path
    version: str = ""
    roots: tuple[str, ...] = ()  # extra directories the sandbox mounts read-only
    problem: str = ""  # why it is unavailable, and how to fix it

    def tool(self, name: str) -> str:
        if name not in self.paths:
            raise ToolchainMissing(self.problem or f"{self.language}: tool {name!r} not found")
        return self.paths[name]


@dataclass
class RunSpec:
    """How to run one built program. ``argv`` may contain ``{build}``."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    # A Python source path (may contain {build}) that the runner may execute in a forked,
    # pre-started interpreter instead of exec'ing ``argv`` (same semantics, no startup cost).
    python_inline: str | None = None
    # A Ruby source path (may contain {build}) that the runner may run in a child forked from
    # a pre-started ``argv[:-1]`` interpreter (one per chunk) instead of exec'ing ``argv``.
    ruby_inline: str | None = None


@dataclass
class BuildPlan:
    """Files to write into a fresh build directory, commands to run there, and how to run each program.

    ``commands`` run in order with the build directory as working directory, in the sandbox;
    an empty list means there is nothing to compile. ``owners`` maps the build-relative path
    of each candidate's source file to its index, so compiler diagnostics can be blamed on the
    candidates that caused them.
    """

    files: dict[str, str]
    commands: list[list[str]]
    runs: list[RunSpec]
    owners: dict[str, int] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    writable: list[str] = field(default_factory=list)  # host dirs the compile step may write (caches)
    # True when the commands build each candidate independently (a failing candidate does not
    # stop the others' artefacts from being produced, e.g. `g++ -c` over many files, then one
    # link per candidate): the engine then runs every command, and candidates nobody's
    # diagnostics blame are run from this build instead of being rebuilt.
    keep_going: bool = False
    # True when each candidate is built by commands of its own, exactly as ``plan_single``
    # builds it but for its file's place in the build directory (``Language.plan_suspects``):
    # the output of a failing command is then the verdict of the candidate it names.
    standalone: bool = False


class Language(ABC):
    """One programming language. Subclasses are stateless singletons registered in ``xpl.languages``."""

    name: ClassVar[str]  # canonical id, e.g. "rust"
    display_name: ClassVar[str]  # e.g. "Rust"
    aliases: ClassVar[tuple[str, ...]] = ()  # first alias = MultiPL-E short name, e.g. "rs"
    extension: ClassVar[str]  # source file extension without dot
    compiled: ClassVar[bool] = False
    # (tool key, candidate executable names, version argv suffix); first found is used.
    tools: ClassVar[tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]] = ()
    apt_packages: ClassVar[tuple[str, ...]] = ()  # Debian packages that provide the toolchain
    install_hint: ClassVar[str] = ""  # shown when the toolchain is missing
    batch_size: ClassVar[int] = 1  # candidates per compiler invocation (1 = no batching)
    # Whether a batch's programs share compiler work (start-up, the standard library, one
    # link). False: each compiles on its own anyway, so a batch split over workers costs no
    # more CPU than one call (the engine then splits it even with ``split_compiles=False``).
    shared_compile: ClassVar[bool] = True
    # Regexes over stderr (+stdout) that classify a failed run.
    syntax_error_patterns: ClassVar[tuple[str, ...]] = ()
    assertion_patterns: ClassVar[tuple[str, ...]] = ()
    memory_error_patterns: ClassVar[tuple[str, ...]] = ()
    stop_sequences: ClassVar[tuple[str, ...]] = ()
    completion_suffix: ClassVar[str] = ""  # closes the function after a stop-truncated completion
    comment_prefix: ClassVar[str] = "//"
    # How a function's body is delimited: brace ({ ... }), indent (Python), end (def/function
    # ... end); chat.function_body reads a body out of a whole function with it.
    block: ClassVar[str] = "brace"
    reserved_words: ClassVar[frozenset[str]] = frozenset()
    # The PL's names of the scalar types (IntType, FloatType, BoolType, StrType, NoneType).
    scalar_type_names: ClassVar[dict[type, str]] = {}
    # The PL's spellings of NaN, +infinity and -infinity as double expressions.
    float_specials: ClassVar[tuple[str, str, str]] = ("", "", "")
    # A function body that returns the expression {} (with the completion's indentation and,
    # where the model writes it, the function's end).
    return_template: ClassVar[str] = ""

    # ----------------------------------------------------------------- toolchain
    @functools.cached_property
    def toolchain(self) -> Toolchain:
        return _cached_detect(self)

    def detect(self) -> Toolchain:
        """Find every tool, resolve symlinks and shims, read the version. Never raises."""
        paths: dict[str, str] = {}
        for key, names, _ in self.tools:
            found = next((p for p in (shutil.which(n) for n in names) if p), None)
            if found is None:
                return Toolchain(self.name, False, paths, problem=self.missing_message(names[0]))
            paths[key] = os.path.realpath(found)
        try:
            paths, extra_roots = self.refine_toolchain(paths)
        except ToolchainMissing as exc:
            return Toolchain(self.name, False, paths, problem=str(exc))
        # Versions come from the refined (real) binaries: a proxy reports its own version.
        versions: list[str] = []
        for key, _, version_args in self.tools:
            if version_args and key in paths:
                out = _command_output([paths[key], *version_args])
                if out is None:
                    return Toolchain(
                        self.name, False, paths, problem=f"{self.display_name}: `{paths[key]} {' '.join(version_args)}` failed"
                    )
                versions.append(_first_line(out))
        roots = set(extra_roots)
        for p in paths.values():
            if not p.startswith(SYSTEM_PREFIXES):
                roots.add(str(Path(p).parent.parent))  # <prefix>/bin/tool -> <prefix>
        return Toolchain(self.name, True, paths, "; ".join(dict.fromkeys(versions)), tuple(sorted(roots)))

    def refine_toolchain(self, paths: dict[str, str]) -> tuple[dict[str, str], Sequence[str]]:
        """Hook: replace shims/proxies by real binaries, add directories the sandbox must mount."""
        return paths, ()

    def missing_message(self, tool: str) -> str:
        how = self.install_hint or (
            f"install it with `apt-get install {' '.join(self.apt_packages)}`" if self.apt_packages else ""
        )
        return f"{self.display_name}: `{tool}` not found on PATH" + (f"; {how}" if how else "")

    def require(self) -> Toolchain:
        tc = self.toolchain
        if not tc.available:
            raise ToolchainMissing(tc.problem)
        return tc

    # ----------------------------------------------------------------- building
    @abstractmethod
    def plan_single(self, source: str, tc: Toolchain) -> BuildPlan:
        """Build and run one program in its natural, standalone form (the ground truth)."""

    def plan_batch(self, sources: Sequence[str], tc: Toolchain) -> BuildPlan:
        """Build many programs with as few compiler invocations as possible.

        The default, for interpreted PLs (single plans without commands), keeps every program
        in its own sub-directory; compiled PLs override it.
        """
        files: dict[str, str] = {}
        runs: list[RunSpec] = []
        owners: dict[str, int] = {}
        env: dict[str, str] = {}
        writable: list[str] = []
        for i, src in enumerate(sources):
            plan = self.plan_single(src, tc)
            prefix = f"c{i}/"
            files.update({prefix + k: v for k, v in plan.files.items()})
            owners.update({prefix + k: i for k in plan.files})
            if plan.commands:
                raise NotImplementedError(f"{self.name}: a compiled language must implement plan_batch")
            runs.extend(_prefix_run(prefix, r) for r in plan.runs)
            env.update(plan.env)
            writable.extend(w for w in plan.writable if w not in writable)
        return BuildPlan(files, [], runs, owners, env, writable)

    def blame(self, diagnostics: str, plan: BuildPlan) -> set[int]:
        """Candidates whose files appear in compiler diagnostics (by build-relative path)."""
        hits: set[int] = set()
        for path, owner in plan.owners.items():
            if re.search(r"(^|[\s/'\"(])" + re.escape(path) + r"\b", diagnostics, re.MULTILINE):
                hits.add(owner)
        return hits

    def likely_broken(self, source: str) -> bool:
        """A cheap lexical hint that ``source`` cannot compile (its brackets do not pair up, a
        literal or comment never ends: a truncated reply looks like this). The engine compiles
        such *suspects* apart (``plan_suspects``), so that they do not fail the batches of the
        others. Only a hint: the compiler still decides (``xpl.languages.lexical``). Default:
        no hint."""
        return False

    def plan_suspects(self, sources: Sequence[str], tc: Toolchain) -> BuildPlan:
        """How suspects are compiled. Default: one batch of their own, which suits compilers
        that report every broken file of a call at once (one failing call names them all)."""
        return self.plan_batch(sources, tc)

    def batch_failure_is_final(self, sources: Sequence[str], index: int) -> bool:
        """True when candidate ``index`` failing to compile in a batch of ``sources`` proves that
        it fails alone too (the batch wrapping cannot be the cause), so its diagnostics from the
        batch are its verdict and it need not be compiled again by itself. Default: never."""
        return False

    def diagnostics_for(self, diagnostics: str, plan: BuildPlan, index: int) -> str:
        """The part of a batch's compiler output about candidate ``index``: the lines naming its
        file, each with the lines that follow it up to the next line naming another file."""
        mine = [p for p, o in plan.owners.items() if o == index]
        others = [p for p, o in plan.owners.items() if o != index]
        keep, out = False, []
        for line in diagnostics.splitlines():
            if any(p in line for p in mine):
                keep = True
            elif any(p in line for p in others):
                keep = False
            if keep:
                out.append(line)
        return "\n".join(out) or diagnostics

    def reference_plan(self, source: str, tc: Toolchain) -> BuildPlan:
        """How MultiPL-E's evaluator builds and runs one program: the benchmark's baseline.
        Default: ``plan_single``; modules whose single plan adds a speed-up override it."""
        return self.plan_single(source, tc)

    def run_env(self, tc: Toolchain, memory_mb: int) -> dict[str, str]:
        """Extra environment for running programs (e.g. JVM heap size from the memory limit)."""
        return {}

    # ----------------------------------------------------------------- classification
    def looks_like(self, kind: str, text: str) -> bool:
        patterns = {
            "syntax": self.syntax_error_patterns,
            "assertion": self.assertion_patterns,
            "memory": self.memory_error_patterns,
        }[kind]
        return any(re.search(p, text, re.MULTILINE) for p in patterns)

    # ----------------------------------------------------------------- rendering
    def scalar_type_name(self, typ: Type) -> str | None:
        """The PL's name of a scalar type (from ``scalar_type_names``); None for other types."""
        return self.scalar_type_names.get(type(typ))

    def float_literal(self, value: float) -> str:
        """A double literal: ``float_specials`` for NaN and the infinities, else Python's
        shortest round-trip form ("1e-07", "-0.0", "1e+16"), which every supported PL reads as
        the same double."""
        v = float(value)
        if math.isnan(v) or math.isinf(v):
            special = self.float_specials[0 if math.isnan(v) else 1 if v > 0 else 2]
            if not special:
                raise self.unsupported(f"the float {v!r}")
            return special
        return repr(v)

    @abstractmethod
    def render_type(self, typ: Type) -> str:
        """The PL's spelling of a type (raise ``UnsupportedError`` if it has none)."""

    @abstractmethod
    def render_value(self, value: Any, typ: Type) -> str:
        """A literal expression of type ``typ`` whose value is ``value``."""

    @abstractmethod
    def prompt(self, sig: Signature, docstring: str) -> str:
        """Signature with the docstring as a comment, ending where the body's first line goes."""

    def prompt_with_helpers(self, sig: Signature, docstring: str, helpers: str) -> str:
        """``prompt`` with ``helpers``, this PL's code of the functions a problem's own prompt
        defines for the solution to call (HumanEval/10's ``is_palindrome``), placed after the
        header (package clause, imports, opening class: ``chat_header``) and before the
        function's description, as the original prompt has them."""
        prompt = self.prompt(sig, docstring)
        if not helpers.strip():
            return prompt
        header = self.chat_header(sig)
        if not prompt.startswith(header):  # pragma: no cover - every module's prompt starts with it
            raise self.unsupported("helper functions: the prompt does not start with its header")
        return header + helpers.strip("\n") + "\n\n" + prompt[len(header):]

    @abstractmethod
    def harness(self, sig: Signature, tests: Sequence[TestCase]) -> str:
        """Test code appended after ``prompt + body + completion_suffix`` that reports each
        test's result (see the protocol above); it holds the arguments only, so the program
        must be run with ``expected_results(sig, tests)`` beside it."""

    @abstractmethod
    def check_harness(self, sig: Signature, tests: Sequence[TestCase]) -> str:
        """Self-checking test code (expected values inside, pass/fail lines, exit status 1 on a
        failure), for programs that must judge themselves, e.g. a MultiPL-E export."""

    def expected_results(self, sig: Signature, tests: Sequence[TestCase]):
        """What the engine compares the harness's output with (``verdict.Expected``)."""
        from xpl.languages.values import Expected

        return Expected.of(sig, tests)

    def program(self, sig: Signature, docstring: str, body: str, tests: Sequence[TestCase]) -> str:
        """A complete runnable program: prompt, function body, closing text, harness."""
        if body and not body.endswith("\n"):
            body += "\n"
        return self.prompt(sig, docstring) + body + self.completion_suffix + self.harness(sig, tests)

    def multipl_e_form(self, prompt: str, tests: str) -> tuple[str, str, str]:
        """(MultiPL-E's language name, prompt, tests) of a MultiPL-E record whose program is
        ``prompt + completion + tests`` and ``tests`` is the self-checking harness. Default:
        the first alias, both unchanged; PLs whose MultiPL-E evaluator judges something else
        than the exit status override it."""
        return (self.aliases[0] if self.aliases else self.name), prompt, tests

    def check_program(self, sig: Signature, docstring: str, body: str, tests: Sequence[TestCase]) -> str:
        """As ``program``, with the self-checking harness (``check_harness``)."""
        if body and not body.endswith("\n"):
            body += "\n"
        return self.prompt(sig, docstring) + body + self.completion_suffix + self.check_harness(sig, tests)

    # ----------------------------------------------------------------- chat (instruct models)
    @property
    def fence_tags(self) -> tuple[str, ...]:
        """Markdown info strings that name this PL (```rust, ```rs ...), lower case."""
        return tuple(dict.fromkeys(t.lower() for t in (self.name, *self.aliases, self.extension, self.display_name)))

    def chat_signature(self, sig: Signature) -> str:
        """The function's signature line as a user message names it (no opening brace)."""
        return self.prompt(sig, "").splitlines()[-1].strip().rstrip("{").rstrip()

    def chat_message(self, sig: Signature, docstring: str) -> str:
        """The user turn asking an instruct model for the function (see ``xpl.languages.chat``)."""
        from xpl.languages.chat import user_message

        return user_message(self.display_name, self.name, self.chat_signature(sig), docstring)

    def chat_header(self, sig: Signature) -> str:
        """What the completion prompt supplies before the function (package clause, imports,
        an opening class): the prompt without its description, less its signature line."""
        return "".join(self.prompt(sig, "").splitlines(keepends=True)[:-1])

    def split_reply(self, code: str, sig: Signature) -> tuple[list[str], str]:
        """Hook: a reply's code as (its import lines, to merge into the header; the code to
        run before the harness), with whatever would stop the harness from running fairly
        taken out (a second entry point, a package clause). Default: the code as it is."""
        return [], code

    def merge_header(self, header: str, imports: Sequence[str]) -> str:
        """The header with the reply's import lines that it lacks put first."""
        have = set(header.splitlines())
        return "".join(f"{line}\n" for line in dict.fromkeys(imports) if line not in have) + header

    def chat_program(self, sig: Signature, reply: str, harness: str) -> str:
        """The program run for a chat reply: header, the reply's code, then ``harness`` (the
        PL's harness without the completion-mode closing text)."""
        from xpl.languages.chat import extract_code

        imports, code = self.split_reply(extract_code(reply, self.fence_tags), sig)
        if code and not code.endswith("\n"):
            code += "\n"
        return self.merge_header(self.chat_header(sig), imports) + code + harness

    def dummy_body(self, sig: Signature) -> str:
        """A type-correct body that returns the return type's zero value (0, "", [], ...): it
        compiles wherever the harness is well-typed, and fails the tests."""
        if isinstance(sig.returns, NoneType) or not self.return_template:
            raise self.unsupported(f"no dummy body for a function returning {sig.returns.annotation()}")
        return self.return_template.format(self.render_value(zero_value(sig.returns), sig.returns))

    def identifier(self, name: str) -> str:
        """A parameter/function name that is legal in this PL (reserved words get a ``_`` suffix)."""
        return name + "_" if name in self.reserved_words else name

    def comment(self, text: str, indent: str = "") -> str:
        """``text`` as line comments, one per line, each ending in a newline."""
        lines = text.strip("\n").splitlines() or [""]
        return "".join(f"{indent}{self.comment_prefix} {ln}".rstrip() + "\n" for ln in lines)

    def unsupported(self, reason: str) -> UnsupportedError:
        return UnsupportedError(self.name, reason)

    def check_int(self, value: int) -> None:
        if not INT_MIN <= value <= INT_MAX:
            raise self.unsupported(f"integer {value} does not fit in 64 bits")

    def refuse_any_result(self, sig: Signature) -> None:
        """Raise ``UnsupportedError`` when the result type holds ``Any``: harnesses write results
        of known types only (``Any`` is for parameters, HumanEval/22's ``List[Any]``)."""
        if any(isinstance(t, AnyType) for t in sig.returns.walk()):
            raise self.unsupported("Any in the result type (harnesses write results of known types only)")

    def supports(self, sig: Signature) -> str | None:
        """None if every type of ``sig`` can be rendered, else the reason it cannot."""
        try:
            for t in sig.types():
                self.render_type(t)
            self.refuse_any_result(sig)
        except UnsupportedError as exc:
            return exc.reason
        return None

    def __repr__(self) -> str:
        return f"<Language {self.name}>"


# --------------------------------------------------------------------- helpers for modules


def _prefix_run(prefix: str, run: RunSpec) -> RunSpec:
    def fix(s: str) -> str:
        return s.replace(BUILD + "/", BUILD + "/" + prefix)

    return RunSpec(
        [fix(a) for a in run.argv],
        dict(run.env),
        fix(run.python_inline) if run.python_inline else None,
        fix(run.ruby_inline) if run.ruby_inline else None,
    )


def cache_dir() -> Path:
    """xpl's cache directory for toolchain artefacts: ``$XPL_CACHE`` (the models' cache too),
    else ``$XPL_CACHE_DIR`` (its older name), else ``~/.cache/xpl``."""
    return Path(os.environ.get("XPL_CACHE") or os.environ.get("XPL_CACHE_DIR") or Path.home() / ".cache" / "xpl")


# Probing a toolchain runs its tools (`javac -version`, `tsc --version`, `node -p ...`): about
# 2 s for the 12 PLs, paid by every CLI call before this cache. A probe is kept in
# toolchains.json and reused while every executable it found (on PATH and after refinement)
# is the same file (path, size, mtime) and the PL's module is unchanged. A probe that ended on
# another binary than the one PATH gave (a shim of rustup, pyenv, asdf, volta or juliaup
# resolved) also depends on what version managers choose by: their environment variables,
# the version files in the working directory and its parents, and their global settings.
# XPL_TOOLCHAIN_CACHE=0 turns the cache off; `xpl langs --refresh` probes again.
TOOLCHAIN_CACHE_ENV = "XPL_TOOLCHAIN_CACHE"
_SHIM_ENV = ("RUSTUP_TOOLCHAIN", "RUSTUP_HOME", "CARGO_HOME", "PYENV_VERSION", "PYENV_ROOT", "ASDF_DATA_DIR",
             "ASDF_DEFAULT_TOOL_VERSIONS_FILENAME", "VOLTA_HOME", "NODENV_VERSION", "NODE_VERSION", "JULIAUP_CHANNEL",
             "JULIAUP_DEPOT_PATH")
_SHIM_FILES = ("rust-toolchain", "rust-toolchain.toml", ".python-version", ".tool-versions", ".node-version", ".nvmrc")
_SHIM_SETTINGS = ("~/.rustup/settings.toml", "~/.pyenv/version", "~/.tool-versions", "~/.volta/tools/user/platform.json",
                  "~/.julia/juliaup/juliaup.json")


def _shim_state() -> list[Any]:
    """What version managers pick a binary by, here and now."""
    env = [[k, os.environ[k]] for k in _SHIM_ENV if k in os.environ]
    files = []
    here = Path.cwd()
    for folder in (here, *here.parents):
        files.extend(s for s in (_file_stamp(str(folder / f)) for f in _SHIM_FILES) if s)
    files.extend(s for s in (_file_stamp(os.path.expanduser(f)) for f in _SHIM_SETTINGS) if s)
    return [env, files]


def _file_stamp(path: str) -> list[Any] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [path, st.st_size, st.st_mtime_ns]


def _toolchain_key(lang: "Language") -> dict[str, Any] | None:
    """What a cached probe of ``lang`` depends on, or None when a tool is not on PATH (a
    missing tool is found missing without running anything)."""
    import inspect

    from xpl import __version__

    found = []
    for key, names, _ in lang.tools:
        path = next((p for p in (shutil.which(n) for n in names) if p), None)
        if path is None:
            return None
        found.append([key, _file_stamp(os.path.realpath(path))])
    return {"xpl": __version__, "module": _file_stamp(inspect.getfile(type(lang))), "base": _file_stamp(__file__), "found": found}


def _toolchain_cache_file() -> Path:
    return cache_dir() / "toolchains.json"


def _read_toolchain_cache() -> dict[str, Any]:
    import json

    try:
        data = json.loads(_toolchain_cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _cached_detect(lang: "Language") -> Toolchain:
    """``lang.detect()``, reused from the toolchain cache when nothing it depends on changed."""
    import json

    if os.environ.get(TOOLCHAIN_CACHE_ENV, "1") == "0":
        return lang.detect()
    key = _toolchain_key(lang)
    if key is None:
        return lang.detect()
    entry = _read_toolchain_cache().get(lang.name)
    if isinstance(entry, dict) and entry.get("key") == key:
        try:
            tc, stamps = entry["toolchain"], entry["stamps"]
            if entry.get("shims") is not None and entry["shims"] != _shim_state():
                raise KeyError("shims")  # a version manager may pick another binary now
            if stamps and all(_file_stamp(s[0]) == s for s in stamps):
                return Toolchain(lang.name, True, dict(tc["paths"]), str(tc["version"]), tuple(tc["roots"]))
        except (KeyError, TypeError, IndexError):
            pass  # an entry this version cannot read: probe again and overwrite it
    tc = lang.detect()
    found = {k: stamp[0] for k, stamp in key["found"]}
    if tc.available:
        shimmed = any(tc.paths.get(k) != path for k, path in found.items())
        stamps = [_file_stamp(p) for p in sorted(set(tc.paths.values()))]
        if all(stamps):
            data = _read_toolchain_cache()
            data[lang.name] = {
                "key": key,
                "shims": _shim_state() if shimmed else None,
                "stamps": stamps,
                "toolchain": {"paths": tc.paths, "version": tc.version, "roots": list(tc.roots)},
            }
            path = _toolchain_cache_file()
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f".{path.name}.{os.getpid()}")
                tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
                os.replace(tmp, path)
            except OSError:
                pass  # a read-only home: probe every time
    return tc


def clear_toolchain_cache() -> None:
    """Forget every cached probe (``xpl langs --refresh``)."""
    try:
        _toolchain_cache_file().unlink()
    except FileNotFoundError:
        pass


def _command_output(argv: list[str], timeout: float = 30.0) -> str | None:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout.strip() or proc.stderr.strip()


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0].strip() if text.strip() else ""


def escape_string(
    s: str,
    quote: str = '"',
    *,
    extra: dict[str, str] | None = None,
    unicode: str = "\\u{{{:x}}}",
    ascii_only: bool = True,
) -> str:
    """A C-style quoted string literal.

    ``unicode`` formats a non-ASCII or control code point (``"\\\\u{{{:x}}}"`` gives
    ``\\u{e9}``); ``extra`` maps further characters to escapes (``{"$": "\\\\$"}`` for PHP).
    """
    table = {"\\": "\\\\", quote: "\\" + quote, "\n": "\\n", "\t": "\\t", "\r": "\\r"}
    if extra:
        table.update(extra)
    out = []
    for ch in s:
        if ch in table:
            out.append(table[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F or (ascii_only and ord(ch) > 0x7E):
            out.append(unicode.format(ord(ch)))
        else:
            out.append(ch)
    return quote + "".join(out) + quote


def utf16_escape(template: str = "\\u{:04x}"):
    """A ``unicode`` formatter for PLs whose escapes are UTF-16 code units (Java, C#, JS)."""

    class _Fmt:
        def format(self, cp: int) -> str:
            if cp > 0xFFFF:
                cp -= 0x10000
                return template.format(0xD800 + (cp >> 10)) + template.format(0xDC00 + (cp & 0x3FF))
            return template.format(cp)

    return _Fmt()


def zero_value(t: Type) -> Any:
    """The simplest value of a type: 0, 0.0, False, "", [], {}, a tuple of zeros, None; a
    union's is its first member's."""
    if isinstance(t, IntType):
        return 0
    if isinstance(t, FloatType):
        return 0.0
    if isinstance(t, BoolType):
        return False
    if isinstance(t, StrType):
        return ""
    if isinstance(t, ListType):
        return []
    if isinstance(t, DictType):
        return {}
    if isinstance(t, TupleType):
        return tuple(zero_value(e) for e in t.elems)
    if isinstance(t, UnionType):
        return zero_value(t.members[0])
    if isinstance(t, AnyType):
        return 0
    return None  # Optional and None


__all__ = [
    "BUILD",
    "HARNESS_MARKER",
    "NONCE_ENV",
    "BuildPlan",
    "Language",
    "RunSpec",
    "Toolchain",
    "ToolchainMissing",
    "escape_string",
    "utf16_escape",
    "BoolType",
    "DictType",
    "FloatType",
    "IntType",
    "ListType",
    "NoneType",
    "OptionalType",
    "StrType",
    "TupleType",
]
