"""TypeScript: compiled by ``tsc`` to JavaScript, run on Node.js.

Types follow MultiPL-E: ``number`` for ints and floats, ``boolean``, ``string``, ``T[]``,
``[A, B]`` tuples, ``{[key: string]: V}`` / ``{[key: number]: V}`` dicts (plain objects,
like the JavaScript programs, rather than ``Map``: object literals are what MultiPL-E's
prompts and tests use) and ``T | undefined`` for ``Optional[T]``. Values, the prompt's
comment style and the harness are JavaScript's (``xpl.languages.javascript``).

Compiler options (one ``tsconfig.json``, identical for a single program and a batch):

* ``strict: false``: tsc's default strictness, as MultiPL-E ran it. A type error is a
  compile error (tsc exits non-zero), as in MultiPL-E.
* ``target: es2022`` with its default library (which includes the DOM declarations, so
  ``console`` is declared as under MultiPL-E's ``--target esnext``), ``module: commonjs``,
  ``skipLibCheck`` (halves tsc's start-up), and no ``@types`` packages, so nothing outside
  the build directory changes a result.
* ``moduleDetection: force``: every file is a module of its own, so that many candidates
  can share one compiler invocation without their top-level names colliding. tsc marks
  a CommonJS module ``"use strict"``; ``noImplicitUseStrict`` keeps that out, so the
  emitted JavaScript runs in sloppy mode like MultiPL-E's scripts (TypeScript >= 5.5
  removed that option: there, programs run in strict mode, single and batched alike).

A batch is ``c0.ts ... cN.ts`` in one tsc call; each compiles to ``out/cI.js`` exactly the
JavaScript that ``main.ts`` compiles to alone (``tests/languages/test_typescript.py`` checks
this), and tsc names the offending file in every diagnostic (``c3.ts(5,10): error TS2322``),
which is what ``Language.blame`` looks for. What a batch cannot reproduce: a candidate that
augments the global scope (``declare global { ... }``) is visible to the other candidates'
type checking.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from xpl.languages.base import (
    BUILD,
    BuildPlan,
    RunSpec,
    Toolchain,
    ToolchainMissing,
    _command_output,
)
from xpl.languages.javascript import PACKAGE_JSON, JavaScript
from xpl.languages.types import NoneType, Signature

MIN_TSC = (4, 7)  # moduleDetection appeared in TypeScript 4.7


class TypeScript(JavaScript):
    name = "typescript"
    display_name = "TypeScript"
    aliases = ("ts", "typescript")
    extension = "ts"
    compiled = True
    tools = (
        ("node", ("node", "nodejs"), ("--version",)),
        ("tsc", ("tsc",), ("--version",)),
    )
    apt_packages = ("nodejs", "node-typescript")
    install_hint = (
        "install Node.js and TypeScript >= 4.7 "
        "(`apt-get install nodejs node-typescript` or `npm install -g typescript`)"
    )
    # tsc starts in ~1 s, then checks a small program in tens of milliseconds: batches amortise the start.
    batch_size = 64
    stop_sequences = ("\n}", "\nfunction ", "\n/*", "\n//", "\nclass")
    # A CommonJS module's top level may not declare these (TS2441).
    reserved_words = JavaScript.reserved_words | {"require", "exports"}

    def refine_toolchain(self, paths: dict[str, str]) -> tuple[dict[str, str], list[str]]:
        paths, roots = super().refine_toolchain(paths)
        version = _tsc_version(_command_output([paths["tsc"], "--version"]) or "")
        if version is None:
            raise ToolchainMissing(f"TypeScript: cannot read the version of {paths['tsc']}")
        if version < MIN_TSC:
            have, need = (".".join(map(str, v)) for v in (version, MIN_TSC))
            raise ToolchainMissing(f"TypeScript: tsc {have} is older than {need}; {self.install_hint}")
        return paths, roots

    # ----------------------------------------------------------------- building
    def compiler_options(self, tc: Toolchain) -> dict:
        options = {
            "target": "es2022",
            "module": "commonjs",
            "moduleDetection": "force",
            "strict": False,
            "skipLibCheck": True,
            "types": [],
            "rootDir": ".",
            "outDir": "out",
            "pretty": False,
        }
        version = _tsc_version(tc.version) or MIN_TSC
        if version < (5, 5):
            options["noImplicitUseStrict"] = True
            if version >= (5, 0):
                options["ignoreDeprecations"] = "5.0"
        return options

    def _plan(self, sources: dict[str, str], tc: Toolchain) -> BuildPlan:
        config = {"compilerOptions": self.compiler_options(tc), "files": list(sources)}
        files = {
            **sources,
            "tsconfig.json": json.dumps(config, indent=2) + "\n",
            "package.json": PACKAGE_JSON,
        }
        node = tc.tool("node")
        runs = [RunSpec([node, f"{BUILD}/out/{path[:-3]}.js"]) for path in sources]
        owners = {path: i for i, path in enumerate(sources)}
        return BuildPlan(files, [[tc.tool("tsc"), "-p", "tsconfig.json"]], runs, owners)

    def plan_single(self, source: str, tc: Toolchain) -> BuildPlan:
        return self._plan({"main.ts": source}, tc)

    def plan_batch(self, sources: Sequence[str], tc: Toolchain) -> BuildPlan:
        return self._plan({f"c{i}.ts": src for i, src in enumerate(sources)}, tc)

    def batch_failure_is_final(self, sources: Sequence[str], index: int) -> bool:
        # Every file is its own module, so candidates cannot see each other, unless one of them
        # declares into the global scope or another module: then another file may be the cause.
        return not any(_REACHES_OUT.search(src) for src in sources)

    # ----------------------------------------------------------------- rendering
    def prompt(self, sig: Signature, docstring: str) -> str:
        params = ", ".join(f"{self.identifier(p.name)}: {self.render_type(p.type)}" for p in sig.params)
        # A function that returns nothing is declared void (TS 4.x demands a return statement
        # in a function declared to return undefined).
        returns = "void" if isinstance(sig.returns, NoneType) else self.render_type(sig.returns)
        return self._doc(docstring) + f"function {self.identifier(sig.name)}({params}): {returns} {{\n"

    def _process_expr(self) -> str:
        # No @types/node: the harness reaches Node's process object untyped.
        return "(globalThis as any).process"

    def _declarations(self) -> str:
        # MultiPL-E's TypeScript tests declare require (for node:assert), so solutions that
        # call require compile there; they do here too. The declaration is module-local.
        return "declare var require: any;\n"


_REACHES_OUT = re.compile(r"\bdeclare\s+(global|module|namespace)\b|///\s*<reference|\bexport\s+as\s+namespace\b")


def _tsc_version(text: str) -> tuple[int, int] | None:
    m = re.search(r"Version (\d+)\.(\d+)", text)
    return (int(m.group(1)), int(m.group(2))) if m else None
