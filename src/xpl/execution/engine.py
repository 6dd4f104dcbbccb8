"""The execution engine: many programs in many PLs, compiled in batches, run in sandboxes.

Pipeline for one ``Engine.run(jobs)`` call:

1. Every job gets a content key (language, program, tests, limits, toolchain version);
   results already in the store are returned without running anything, and identical jobs
   in the call run once.
2. Compiled PLs: jobs are grouped into batches of ``Language.batch_size`` and each batch is
   built with ONE compiler invocation (``Language.plan_batch``). If the batch fails, the
   candidates named in the diagnostics (``Language.blame``) are compiled alone in their
   natural form (``plan_single``, the ground truth for their verdict) and the others are
   rebuilt as a batch; if nobody is named the batch is split in halves. A broken candidate
   therefore never changes another candidate's result.
3. Runs are sent in chunks to a sandboxed runner (``runner.py``) that runs them one by one,
   each in its own confined process (see ``sandbox.py``). ``workers`` sandboxes (default:
   the number of cores) work in parallel, fed from one queue where runs go before compiles,
   so results stream out early and build directories are freed quickly.
4. Each result is classified (``Status``), written to the store at once, and reported
   (``on_result``, as soon as it exists).

A job may come with a ``ProgramIO``: bytes for its standard input, files put in its working
directory before it runs and read back after, and whether to keep its whole output rather
than the tails (``xpl serve``'s SandboxFusion ``/run_code`` runs whole programs this way).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import logging
import math
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from xpl.execution import sandbox as sbx
from xpl.execution.job import Job, Limits, Result, Status
from xpl.execution.store import Store
from xpl.execution.verdict import judge
from xpl.languages import get_language
from xpl.languages.base import BUILD, BuildPlan, Language, RunSpec, ToolchainMissing

log = logging.getLogger("xpl.execution")

COMPILE_MEMORY_MB = 4096
COMPILE_PROCESSES = 512
COMPILE_TMP_MB = 2048
KEEP_RUN_BYTES = 8192
KEEP_COMPILE_BYTES = 256 * 1024

Progress = Callable[[int, int], None]
# on_result(index of the job in the call, its result, the files fetched after its run)
OnResult = Callable[[int, Result, dict[str, bytes]], None]


@dataclass(frozen=True)
class ProgramIO:
    """What a whole program gets besides its source, and what comes back beside its result.

    ``stdin``: its standard input (None: ``/dev/null``). ``files``: (relative path, content)
    written into its working directory before it runs. ``fetch``: relative paths read back
    from there after it ran (regular files only, each at most the job's ``max_file_mb``),
    handed to ``on_result``. ``whole_output``: keep stdout and stderr whole (up to the job's
    ``max_output_kb``) instead of their last 8 KiB. All of it is part of the job's identity.
    """

    stdin: bytes | None = None
    files: tuple[tuple[str, bytes], ...] = ()
    fetch: tuple[str, ...] = ()
    whole_output: bool = False

    def __post_init__(self) -> None:
        for path in [p for p, _ in self.files] + list(self.fetch):
            if not path or path.startswith("/") or ".." in path.split("/") or "\0" in path:
                raise ValueError(f"not a relative path inside the working directory: {path!r}")

    def digest(self) -> str:
        h = hashlib.sha256()
        for part in (b"stdin", self.stdin, b"whole", b"1" if self.whole_output else b"0", b"fetch", *[f.encode() for f in self.fetch]):
            h.update(b"-" if part is None else len(part).to_bytes(8, "little") + part)
        for path, content in sorted(self.files):
            h.update(b"file" + len(path.encode()).to_bytes(8, "little") + path.encode() + len(content).to_bytes(8, "little") + content)
        return h.hexdigest()


def cache_key(job: Job, language: str, toolchain_version: str, io: ProgramIO | None = None) -> str:
    """The results store's key of ``job`` run in ``language`` (its canonical name) with that
    toolchain version, and with ``io`` when it has one."""
    key = job.key(toolchain_version, language)
    return key if io is None else hashlib.sha256(f"{key}:{io.digest()}".encode()).hexdigest()


@dataclass
class _Cand:
    key: str
    job: Job
    lang: Language
    io: ProgramIO | None = None
    compile_s: float = 0.0
    attempts: int = 0
    compile_output: str = ""


@dataclass
class _Build:
    """A build directory, removed when its last user releases it (its creator holds one)."""

    path: Path
    refs: int = 1
    lock: threading.Lock = field(default_factory=threading.Lock)

    def acquire(self, n: int = 1) -> None:
        with self.lock:
            self.refs += n

    def release(self) -> None:
        with self.lock:
            self.refs -= 1
            gone = self.refs <= 0
        if gone:
            shutil.rmtree(self.path, ignore_errors=True)


@dataclass
class _Compile:
    lang: Language
    cands: list[_Cand]
    single: bool
    suspects: bool = False  # candidates Language.likely_broken flagged: plan_suspects builds them


@dataclass
class _Run:
    lang: Language
    build: _Build
    items: list[tuple[_Cand, RunSpec]]


class Engine:
    """Run jobs safely and fast. Thread-compatible, not thread-safe: one ``run`` at a time."""

    def __init__(
        self,
        workers: int | None = None,
        store: Store | str | Path | None = None,
        sandbox: str = "auto",
        runs_per_sandbox: int = 64,
        tmp_dir: str | Path | None = None,
        split_compiles: bool = True,
    ):
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.store = Store(store) if isinstance(store, (str, Path)) else store
        self.sandbox = sbx.detect(sandbox)
        self._uids = sbx.UidBlock.acquire() if self.sandbox.switch_users else None
        if self._uids and self.workers > sbx.UidBlock.SPAN:
            raise ValueError(f"at most {sbx.UidBlock.SPAN} workers")
        self.runs_per_sandbox = max(1, runs_per_sandbox)
        self.tmp_dir = Path(tmp_dir) if tmp_dir else None
        # Spread each PL's compiles over the workers (the shortest wall time on idle cores).
        # Off, a PL's programs share as few compiler calls as its batch size allows: the least
        # CPU, for a caller that keeps the cores busy by itself (``xpl serve``'s lanes).
        self.split_compiles = split_compiles
        self._procs: set[subprocess.Popen] = set()
        self._procs_lock = threading.Lock()

    # ------------------------------------------------------------------ public
    def run(
        self,
        jobs: Iterable[Job],
        progress: Progress | None = None,
        *,
        io: Sequence[ProgramIO | None] | None = None,
        on_result: OnResult | None = None,
    ) -> list[Result]:
        """Run ``jobs``; their results, in order. ``io``: a ``ProgramIO`` (or None) per job.
        ``on_result(i, result, fetched)`` is called (from a worker thread) as soon as job i's
        result exists, cached ones first. Jobs that fetch files are never served from the
        store (it keeps no files)."""
        jobs = list(jobs)
        ios = list(io) if io is not None else [None] * len(jobs)
        if len(ios) != len(jobs):
            raise ValueError(f"io has {len(ios)} entries for {len(jobs)} jobs")
        langs = self._resolve_languages(jobs)
        keys = [cache_key(job, langs[job.language].name, langs[job.language].toolchain.version, p) for job, p in zip(jobs, ios)]
        results: list[Result | None] = [None] * len(jobs)
        cacheable = [key for key, p in zip(keys, ios) if p is None or not p.fetch]
        cached = self.store.get_many(cacheable) if self.store is not None and cacheable else {}
        pending: dict[str, list[int]] = {}
        for i, (job, key) in enumerate(zip(jobs, keys)):
            if key in cached and (ios[i] is None or not ios[i].fetch):  # type: ignore[union-attr]
                r = Result.from_dict(cached[key].to_dict())
                r.id, r.cached = job.id, True
                results[i] = r
                if on_result is not None:
                    on_result(i, r, {})
            else:
                pending.setdefault(key, []).append(i)
        state = _RunState(len(jobs), len(jobs) - len(pending) - sum(len(v) - 1 for v in pending.values()), progress)
        state.report()
        if pending:
            self._ios = ios
            self._on_result = on_result
            self._execute(jobs, langs, pending, results, state)
        if any(r is None for r in results):
            gaps = [i for i, r in enumerate(results) if r is None]
            raise RuntimeError(f"execution engine lost jobs {gaps[:10]}")
        return results  # type: ignore[return-value]

    @property
    def uid_base(self) -> int | None:
        """First uid of this engine's block: run slot i runs as uid_base + i."""
        return self._uids.base if self._uids else None

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
        if self._uids:
            self._uids.release()

    # ------------------------------------------------------------------ internals
    def _resolve_languages(self, jobs: Sequence[Job]) -> dict[str, Language]:
        langs: dict[str, Language] = {}
        for i, job in enumerate(jobs):
            if job.language not in langs:
                try:
                    langs[job.language] = get_language(job.language)
                except ValueError as exc:
                    raise ValueError(f"job {job.id or i}: {exc}") from None
        missing = [lang.toolchain.problem for lang in langs.values() if not lang.toolchain.available]
        if missing:
            raise ToolchainMissing("cannot run these jobs: " + "; ".join(missing))
        return langs

    def _execute(self, jobs, langs, pending, results, state: _RunState) -> None:
        _sweep_stale_scratch(Path(self.tmp_dir or tempfile.gettempdir()))
        root = Path(tempfile.mkdtemp(prefix=f"xpl-exec-{os.getpid()}-", dir=self.tmp_dir))
        os.chmod(root, 0o755)  # programs (other uids) must traverse to their build dir
        self._root = root
        self._seq = itertools.count()
        self._tasks: queue.PriorityQueue = queue.PriorityQueue()
        self._state = state
        self._pending = pending
        self._jobs = jobs
        self._results = results
        threads: list[threading.Thread] = []
        # Batches share one compiler invocation, hence one set of compile limits.
        by_lang: dict[tuple[str, Limits], list[_Cand]] = {}
        for key, idxs in pending.items():
            job = jobs[idxs[0]]
            by_lang.setdefault((langs[job.language].name, job.limits), []).append(_Cand(key, job, langs[job.language], self._ios[idxs[0]]))
        try:
            for cands in by_lang.values():
                lang = cands[0].lang
                if lang.compiled:
                    spread = self.workers if self.split_compiles or not lang.shared_compile else 1
                    # Programs that cannot compile by the look of them would fail the batches
                    # of the others: they are compiled apart, after them.
                    broken = [lang.batch_size > 1 and lang.likely_broken(c.job.program) for c in cands]
                    suspects = [c for c, b in zip(cands, broken) if b]
                    cands = [c for c, b in zip(cands, broken) if not b]
                    for chunk in _chunks(cands, _equal_share(len(cands), spread, lang.batch_size)):
                        self._put(_Compile(lang, chunk, single=len(chunk) == 1))
                    for chunk in _chunks(suspects, _equal_share(len(suspects), spread, lang.batch_size)):
                        self._put(_Compile(lang, chunk, single=len(chunk) == 1, suspects=True))
                else:
                    self._prepare_interpreted(lang, cands)
            threads = [threading.Thread(target=self._worker, args=(slot,), daemon=True) for slot in range(self.workers)]
            for t in threads:
                t.start()
            state.wait()
        finally:
            # Done, failed or interrupted: stop the workers (killing any sandbox still running),
            # wait for them, then remove the scratch tree they were using.
            state.stop = True
            self._kill_all_sandboxes()
            for _ in range(self.workers):
                self._tasks.put((99, next(self._seq), None))
            for t in threads:
                t.join(timeout=30)
            shutil.rmtree(root, ignore_errors=True)
        if state.error:
            raise RuntimeError(f"execution engine failed: {state.error}")

    def _put(self, task) -> None:
        priority = 0 if isinstance(task, _Run) else 1
        self._tasks.put((priority, next(self._seq), task))

    def _prepare_interpreted(self, lang: Language, cands: list[_Cand]) -> None:
        per_chunk = self._chunk_size(len(cands))
        for chunk in _chunks(cands, per_chunk):
            plan = lang.plan_batch([c.job.program for c in chunk], lang.toolchain)
            self._put(_Run(lang, self._new_build(plan), list(zip(chunk, plan.runs))))

    def _chunk_size(self, n: int) -> int:
        if self.sandbox.isolated and not self.sandbox.switch_users:
            return 1  # without per-program uids, each program gets a sandbox of its own
        return _equal_share(n, self.workers, self.runs_per_sandbox)

    def _new_build(self, plan: BuildPlan) -> _Build:
        path = Path(tempfile.mkdtemp(prefix="b", dir=self._root))
        for rel, content in plan.files.items():
            target = path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            # A str may hold lone surrogates (JSON's "\udc80" decodes to one), which UTF-8
            # cannot encode: they become "?", and the program fails or passes on its own
            # (``xpl exec`` rejects such programs before they get here).
            target.write_bytes(content.encode("utf-8", errors="replace"))
        for d, _, files in os.walk(path):
            os.chmod(d, 0o755)
            for f in files:
                os.chmod(os.path.join(d, f), 0o644)
        return _Build(path)

    def _worker(self, slot: int) -> None:
        while not self._state.stop:
            _, _, task = self._tasks.get()
            if task is None or self._state.stop:
                return
            try:
                if isinstance(task, _Compile):
                    self._do_compile(slot, task)
                else:
                    self._do_run(slot, task)
            except BaseException:  # noqa: BLE001 - surface engine bugs in the caller's thread
                self._state.fail(traceback.format_exc())
                return

    # ------------------------------------------------------------------ compile
    def _do_compile(self, slot: int, task: _Compile) -> None:
        lang, cands = task.lang, task.cands
        tc = lang.toolchain
        sources = [c.job.program for c in cands]
        if task.single:
            plan = lang.plan_single(sources[0], tc)
        elif task.suspects:
            plan = lang.plan_suspects(sources, tc)
        else:
            plan = lang.plan_batch(sources, tc)
        build = self._new_build(plan)
        limits = cands[0].job.limits
        if self.sandbox.switch_users:
            _chown_tree(build.path, self._compile_uid())
        for w in plan.writable:
            # Persistent caches (e.g. GOCACHE) belong to the compile uid once created.
            Path(w).mkdir(parents=True, exist_ok=True)
            if self.sandbox.switch_users and os.stat(w).st_uid != self._compile_uid():
                _chown_tree(Path(w), self._compile_uid())
        env = {**self._base_env(lang), **plan.env}
        existing = self._existing_processes()
        runs = []
        for i, argv in enumerate(plan.commands):
            runs.append(
                {
                    "id": str(i),
                    "argv": [self._subst(a, build.path) for a in argv],
                    "env": env,
                    "cwd": self._build_path(build.path),
                    "limits": self._runner_limits(
                        Limits(
                            timeout_s=limits.compile_timeout_s,
                            memory_mb=max(COMPILE_MEMORY_MB, limits.memory_mb),
                            max_processes=COMPILE_PROCESSES,
                            max_file_mb=max(512, limits.max_file_mb),
                            max_open_files=max(4096, limits.max_open_files),
                            max_output_kb=8192,
                        ),
                        compile=True,
                        existing=existing,
                    ),
                    "keep_bytes": KEEP_COMPILE_BYTES,
                }
            )
        start = time.monotonic()
        keep_going = plan.keep_going and not task.single
        raws, problem = self._invoke(
            slot,
            runs,
            build.path,
            build_writable=True,
            lang=lang,
            writable=plan.writable,
            compile=True,
            stop_on_failure=not keep_going,
        )
        share = (time.monotonic() - start) / len(cands)
        for c in cands:
            c.compile_s += share
        failures = [r for r in raws if r.get("exit_code") != 0]
        failed = failures[0] if failures else None
        if problem and failed is None:
            build.release()
            self._requeue_compile(task, problem)
            return
        if failed is None:
            self._run_from(build, lang, list(zip(cands, plan.runs)))
            return
        diagnostics = "\n".join((r.get("stdout", "") + "\n" + r.get("stderr", "")).strip() for r in failures)
        if failed.get("runner_error"):
            diagnostics = failed["runner_error"]
        if keep_going and not problem and not any(r.get("timed_out") or r.get("runner_error") for r in failures):
            outputs = [(r.get("stdout", "") + "\n" + r.get("stderr", "")) for r in failures]
            blames = [lang.blame(out, plan) for out in outputs]
            if all(blames):
                # Every failure is somebody's: run the others from this build where their
                # artefacts exist (a toolchain may stop before writing any, e.g. `go build`
                # on a syntax error in one package), and compile the rest again without the
                # blamed candidates.
                blamed = set().union(*blames)
                others = [i for i in range(len(cands)) if i not in blamed]
                built = [i for i in others if _artefact_exists(plan.runs[i], build.path)]
                unbuilt = [cands[i] for i in others if i not in built]
                self._run_from(build, lang, [(cands[i], plan.runs[i]) for i in built])
                if plan.standalone:
                    # Each failing command built one candidate alone: its output is the verdict.
                    for out, owners in zip(outputs, blames):
                        for i in owners:
                            self._compile_error(cands[i], out.strip())
                else:
                    self._isolate(lang, cands, sources, blamed, diagnostics, plan)
                if unbuilt:
                    self._put(_Compile(lang, unbuilt, single=len(unbuilt) == 1))
                return
        build.release()
        if task.single:
            c = cands[0]
            c.compile_output = diagnostics
            if failed.get("timed_out"):
                status, detail = Status.TIMEOUT, f"compiler exceeded {limits.compile_timeout_s:g} s"
            elif failed.get("runner_error"):
                status, detail = Status.SANDBOX_ERROR, "the compiler could not be started"
            else:
                status, detail = Status.COMPILE_ERROR, ""
            self._finish(c, Result(status, lang.name, total=c.job.num_tests or 1, compile_output=diagnostics[-8000:], compile_s=c.compile_s, detail=detail))
            return
        if failed.get("timed_out"):
            # A batch past the compile timeout names no culprit. Halving would pay the whole
            # timeout again at every level on the half that holds it (one reply that sends
            # javac's error recovery into minutes cost six 120 s timeouts on 60 programs):
            # compile each alone instead, so only the slow one times out, once.
            for c in cands:
                self._put(_Compile(lang, [c], single=True))
            return
        blamed = lang.blame(diagnostics, plan)
        if blamed:
            rest = [c for i, c in enumerate(cands) if i not in blamed]
            self._isolate(lang, cands, sources, blamed, diagnostics, plan)
        else:
            half = len(cands) // 2
            self._put(_Compile(lang, cands[:half], single=half == 1))
            rest = cands[half:]
        if rest:
            self._put(_Compile(lang, rest, single=len(rest) == 1))

    def _isolate(self, lang: Language, cands: list[_Cand], sources: list[str], blamed: set[int], diagnostics: str, plan: BuildPlan) -> None:
        """Blamed candidates: a compile error now where the batch proves it, else compile alone."""
        for i in sorted(blamed):
            c = cands[i]
            if lang.batch_failure_is_final(sources, i):
                self._compile_error(c, lang.diagnostics_for(diagnostics, plan, i))
            else:
                self._put(_Compile(lang, [c], single=True))

    def _compile_error(self, c: _Cand, diagnostics: str) -> None:
        c.compile_output = diagnostics
        result = Result(Status.COMPILE_ERROR, c.lang.name, total=c.job.num_tests or 1, compile_s=round(c.compile_s, 4))
        result.compile_output = diagnostics[-8000:]
        self._finish(c, result)

    def _run_from(self, build: _Build, lang: Language, items: list[tuple[_Cand, RunSpec]]) -> None:
        """Queue runs of ``items`` from ``build``; takes over the caller's reference to it."""
        for chunk in _chunks(items, self._chunk_size(len(items)) if items else 1):
            build.acquire()
            self._put(_Run(lang, build, chunk))
        build.release()

    def _requeue_compile(self, task: _Compile, problem: str) -> None:
        for c in task.cands:
            c.attempts += 1
        if task.cands[0].attempts >= 2:
            for c in task.cands:
                self._finish(c, Result(Status.SANDBOX_ERROR, task.lang.name, total=c.job.num_tests or 1, detail=problem[-2000:]))
        else:
            self._put(task)

    # ------------------------------------------------------------------ run
    def _do_run(self, slot: int, task: _Run) -> None:
        lang = task.lang
        tc = lang.toolchain
        existing = self._existing_processes()
        base_env = self._base_env(lang)
        runs = []
        for i, (c, spec) in enumerate(task.items):
            lim = c.job.limits
            env = {**base_env, **lang.run_env(tc, lim.memory_mb), **spec.env}
            run = {
                "id": str(i),
                "argv": [self._subst(a, task.build.path) for a in spec.argv],
                "python_inline": self._subst(spec.python_inline, task.build.path) if spec.python_inline else None,
                "ruby_inline": self._subst(spec.ruby_inline, task.build.path) if spec.ruby_inline else None,
                "env": env,
                "limits": self._runner_limits(lim, existing=existing),
                "keep_bytes": KEEP_RUN_BYTES,
                "wipe": list(sbx.SANDBOX_SCRATCH) if self.sandbox.isolated else [],
            }
            if c.io is not None:
                run["stdin"] = None if c.io.stdin is None else base64.b64encode(c.io.stdin).decode("ascii")
                run["files"] = [[path, base64.b64encode(content).decode("ascii")] for path, content in c.io.files]
                run["fetch"] = list(c.io.fetch)
                if c.io.whole_output:
                    run["keep_bytes"] = lim.max_output_kb * 1024
            runs.append(run)
        max_disk = max(c.job.limits.disk_mb for c, _ in task.items)
        seen = set()

        def on_result(raw: dict) -> None:  # stream: each result is stored as soon as it exists
            i = int(raw["id"])
            seen.add(i)
            c, _ = task.items[i]
            fetched = {path: base64.b64decode(data) for path, data in (raw.get("fetched") or {}).items()}
            self._finish(c, self._classify(c, raw), fetched)

        _, problem = self._invoke(
            slot, runs, task.build.path, build_writable=False, lang=lang, disk_mb=max_disk, on_result=on_result
        )
        missing = [item for i, item in enumerate(task.items) if i not in seen]
        if missing:
            first, _ = missing[0]
            first.attempts += 1
            if first.attempts >= 2:
                self._finish(
                    first,
                    Result(Status.SANDBOX_ERROR, lang.name, total=first.job.num_tests or 1, detail=f"runner failed: {problem[-2000:]}"),
                )
                missing = missing[1:]
            if missing:
                task.build.acquire()
                self._put(_Run(lang, task.build, missing))
        task.build.release()

    # ------------------------------------------------------------------ sandbox plumbing
    def _compile_uid(self) -> int:
        return sbx.COMPILE_UID

    def _slot_uid(self, slot: int) -> int:
        return self.uid_base + slot  # type: ignore[operator]

    def _build_path(self, host: Path) -> str:
        return sbx.SANDBOX_BUILD if self.sandbox.isolated else str(host)

    def _subst(self, arg: str, host: Path) -> str:
        return arg.replace(BUILD, self._build_path(host))

    def _base_env(self, lang: Language) -> dict[str, str]:
        dirs = list(dict.fromkeys(os.path.dirname(p) for p in lang.toolchain.paths.values()))
        path = ":".join(dirs + [d for d in ("/usr/local/bin", "/usr/bin", "/bin") if d not in dirs])
        return {"PATH": path, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}

    def _existing_processes(self) -> int:
        """Without per-program uids, RLIMIT_NPROC counts every process of our own uid: the
        programs' allowance comes on top of what exists already (read once per sandbox)."""
        return 0 if self.sandbox.switch_users else _count_own_processes()

    def _runner_limits(self, lim: Limits, compile: bool = False, existing: int = 0) -> dict:
        nproc = lim.max_processes + existing
        if compile and self.sandbox.switch_users:
            nproc = lim.max_processes * self.workers  # concurrent compiles share one uid
        return {
            "timeout_s": lim.timeout_s,
            "cpu_s": lim.cpu_s or lim.timeout_s,
            "memory_mb": lim.memory_mb,
            "file_mb": lim.max_file_mb,
            "open_files": lim.max_open_files,
            "nproc": nproc,
            "output_bytes": lim.max_output_kb * 1024,
        }

    def _invoke(
        self,
        slot: int,
        runs: list[dict],
        build: Path,
        *,
        build_writable: bool,
        lang: Language,
        writable: Sequence[str] = (),
        disk_mb: int = 64,
        compile: bool = False,
        stop_on_failure: bool = False,
        on_result: Callable[[dict], None] | None = None,
    ) -> tuple[list[dict], str]:
        """Run ``runs`` in one sandboxed runner. Returns the results it reported and, if it
        did not report them all, a description of what went wrong."""
        uid = None
        if self.sandbox.switch_users:
            uid = self._compile_uid() if compile else self._slot_uid(slot)
        work_host = None
        if self.sandbox.isolated:
            work_root = sbx.SANDBOX_WORK
        else:
            work_host = Path(tempfile.mkdtemp(prefix="w", dir=self._root))
            os.chmod(work_host, 0o755)
            work_root = str(work_host)
        # Sweeping "every process of the uid" is safe where the uid is ours alone: a run slot's,
        # or the shared compile uid inside a private PID namespace. Otherwise sweep the session.
        sweep_uid = uid is not None and (not compile or self.sandbox.isolated)
        manifest = {
            "uid": uid,
            "gid": uid,
            "sweep_uid": sweep_uid,
            "work_root": work_root,
            "runs": runs,
            "stop_on_failure": stop_on_failure,
        }
        fd, mpath = tempfile.mkstemp(prefix="m", suffix=".json", dir=self._root)
        with os.fdopen(fd, "w") as fh:
            json.dump(manifest, fh)
        os.chmod(mpath, 0o644)
        python = sbx.runner_python()
        if self.sandbox.isolated:
            argv = sbx.bwrap_argv(
                build_dir=build,
                build_writable=build_writable,
                manifest=Path(mpath),
                roots=list(lang.toolchain.roots) + list(get_language("python").toolchain.roots),
                writable=list(writable),
                disk_mb=256 if compile else disk_mb,
                tmp_mb=COMPILE_TMP_MB if compile else disk_mb,
                switch_users=self.sandbox.switch_users,
                python=python,
            )
        else:
            argv = [python, "-I", "-S", str(sbx.RUNNER), mpath]
        budget = sum(r["limits"]["timeout_s"] + 5 for r in runs) + 30
        results: list[dict] = []
        with tempfile.TemporaryFile(dir=self._root) as errf:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errf, stdin=subprocess.DEVNULL, start_new_session=True)
            with self._procs_lock:
                self._procs.add(proc)
            timer = threading.Timer(budget, _kill_group, args=(proc,))
            timer.start()
            try:
                assert proc.stdout is not None
                for line in proc.stdout:
                    try:
                        raw = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    results.append(raw)
                    if on_result is not None:
                        on_result(raw)
                rc = proc.wait()
            finally:
                timer.cancel()
                _kill_group(proc)
                with self._procs_lock:
                    self._procs.discard(proc)
            errf.seek(0)
            err = errf.read().decode("utf-8", "replace")
        Path(mpath).unlink(missing_ok=True)
        if work_host is not None:
            shutil.rmtree(work_host, ignore_errors=True)
        problem = ""
        expected = len(runs) if not stop_on_failure or all(r.get("exit_code") == 0 for r in results) else len(results)
        if len(results) < expected:
            problem = f"sandbox runner exited with {rc} after {len(results)}/{len(runs)} runs: {err.strip()[-3000:]}"
            log.warning("xpl execution: %s", problem)
        return results, problem

    def _kill_all_sandboxes(self) -> None:
        with self._procs_lock:
            procs = list(self._procs)
        for p in procs:
            _kill_group(p)

    # ------------------------------------------------------------------ results
    def _classify(self, c: _Cand, raw: dict) -> Result:
        lang, job = c.lang, c.job
        common = dict(
            language=lang.name,
            compile_output=c.compile_output[-8000:],
            compile_s=round(c.compile_s, 4),
        )
        if raw.get("runner_error"):
            return Result(Status.SANDBOX_ERROR, total=job.num_tests or 1, detail=raw["runner_error"][-2000:], **common)
        verdict = judge(raw.get("marks", []), job.num_tests, job.expected)
        outcomes = verdict.outcomes
        passed = sum(o == "pass" for o in outcomes.values())
        total = job.num_tests if job.num_tests is not None else (len(outcomes) or 1)
        exit_code, sig = raw.get("exit_code"), raw.get("signal")
        text = raw.get("stderr", "") + "\n" + raw.get("stdout", "")
        lim = job.limits
        cpu_limit = lim.cpu_s or lim.timeout_s
        status: Status
        detail = ""
        if raw.get("timed_out") or sig == signal.SIGXCPU or (sig == signal.SIGKILL and (raw.get("cpu_s") or 0) >= cpu_limit - 0.05):
            status, detail = Status.TIMEOUT, f"exceeded {lim.timeout_s:g} s"
        elif raw.get("output_exceeded"):
            status, detail = Status.OUTPUT_LIMIT, f"wrote more than {lim.max_output_kb} KiB to stdout/stderr"
        elif sig == signal.SIGXFSZ or raw.get("disk_full"):
            status, detail = Status.OUTPUT_LIMIT, f"exceeded the file size ({lim.max_file_mb} MiB) or disk ({lim.disk_mb} MiB) limit"
        elif raw.get("memory_exceeded") or ((exit_code != 0) and lang.looks_like("memory", text)):
            status, detail = Status.MEMORY_LIMIT, f"exceeded {lim.memory_mb} MiB"
        elif exit_code == 127 and "xpl runner: could not start program" in raw.get("stderr", ""):
            status, detail = Status.SANDBOX_ERROR, "the program could not be started"
        elif outcomes:
            failed = [i for i, o in outcomes.items() if o == "fail"]
            if failed:
                status, detail = Status.TEST_FAILURE, verdict.first_failure
            elif exit_code == 0 and verdict.done and passed == total:
                status = Status.OK
            else:
                status = Status.RUNTIME_ERROR
                if passed + len([o for o in outcomes.values() if o == "error"]) < total:
                    detail = f"stopped after {len(outcomes)} of {total} tests"
        elif lang.looks_like("syntax", text) and exit_code != 0:
            status = Status.COMPILE_ERROR
        elif job.num_tests is None and exit_code == 0:
            status, passed = Status.OK, 1
        elif job.num_tests is None and lang.looks_like("assertion", text):
            status = Status.TEST_FAILURE
        else:
            status = Status.RUNTIME_ERROR
            if exit_code == 0:
                detail = "exited before reporting any test"
        failed_tests = sorted(i for i, o in outcomes.items() if o != "pass")
        if job.num_tests is not None:
            failed_tests = sorted(set(failed_tests) | {i for i in range(total) if i not in outcomes})
        return Result(
            status,
            passed=passed,
            total=total,
            failed_tests=failed_tests,
            exit_code=exit_code,
            signal=sig,
            stdout=raw.get("stdout", ""),
            stderr=raw.get("stderr", ""),
            run_s=raw.get("wall_s", 0.0),
            peak_rss_kb=raw.get("peak_rss_kb", 0),
            detail=detail,
            verified=job.expected is not None,
            **common,
        )

    def _finish(self, c: _Cand, result: Result, fetched: dict[str, bytes] | None = None) -> None:
        result.key = c.key
        if self.store is not None:
            self.store.put(result)
        for i in self._pending[c.key]:
            r = Result.from_dict(result.to_dict())
            r.id = self._jobs[i].id
            self._results[i] = r
            if self._on_result is not None:
                self._on_result(i, r, dict(fetched or {}))
        self._state.advance(len(self._pending[c.key]))


class _RunState:
    def __init__(self, total: int, done: int, progress: Progress | None):
        self.total = total
        self.done = done
        self.progress = progress
        self.cond = threading.Condition()
        self.stop = False
        self.error: str | None = None

    def report(self) -> None:
        if self.progress:
            self.progress(self.done, self.total)

    def advance(self, n: int) -> None:
        with self.cond:
            self.done += n
            self.cond.notify_all()
        self.report()

    def fail(self, error: str) -> None:
        with self.cond:
            self.error = self.error or error
            self.cond.notify_all()

    def wait(self) -> None:
        with self.cond:
            while self.done < self.total and self.error is None:
                self.cond.wait(timeout=0.5)


def _sweep_stale_scratch(tmp: Path) -> None:
    """Remove scratch trees of engines that were killed (kill -9 leaves them behind)."""
    for path in tmp.glob("xpl-exec-*-*"):
        pid = path.name.split("-")[2]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(path, ignore_errors=True)


def _artefact_exists(run: RunSpec, build_path) -> bool:
    """Whether the executable a run starts (``{build}/...``) was written by the build."""
    exe = run.argv[0] if run.argv else ""
    if not exe.startswith(BUILD + "/"):
        return True  # an interpreter or a system tool: nothing the build had to write
    return os.path.exists(os.path.join(str(build_path), exe[len(BUILD) + 1 :]))


def _equal_share(n: int, workers: int, cap: int) -> int:
    """The size of the chunks ``n`` items are cut into: as few rounds as ``cap`` (items per
    chunk) allows, every chunk the same size, so every worker gets the same share. 150 items on
    2 workers with a cap of 64 are 4 chunks of 38, not 64 + 64 + 22 (one worker would do 86
    while the other did 64)."""
    rounds = math.ceil(n / (workers * cap))
    return max(1, math.ceil(n / (workers * rounds))) if rounds else 1


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _kill_group(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.wait()


def _chown_tree(path: Path, uid: int) -> None:
    for d, _, files in os.walk(path):
        for p in [d, *(os.path.join(d, f) for f in files)]:
            os.lchown(p, uid, uid)


def _count_own_processes() -> int:
    uid = os.getuid()
    n = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                n += os.stat(f"/proc/{name}").st_uid == uid
            except OSError:
                pass
    return n

