"""``xpl serve``: the execution engine as an HTTP service (FastAPI + uvicorn).

Endpoints:

``POST /run_code``
    SandboxFusion's endpoint, with its request and response as the official client
    (``sandbox-fusion`` 0.3.7) defines them: ``{code, language, compile_timeout, run_timeout,
    stdin, files, fetch_files}`` (and ``memory_limit_MB``, which verl sends) in, ``{status:
    Success|Failed|SandboxError, message, compile_result, run_result, executor_pod_name,
    files}`` out, each result ``{status: Finished|Error|TimeLimitExceeded, execution_time,
    cpu_time, return_code, stdout, stderr}``. The program is a whole program in one of
    SandboxFusion's language names (``nodejs`` is xpl's ``javascript``; xpl's own names and
    aliases work too), run in the engine's sandbox with its limits; its working directory
    holds ``files`` and is where ``fetch_files`` are read from.
``POST /run``
    xpl jobs, as in an ``xpl exec`` file (``Job.from_json``): a JSON array of jobs, or
    ``{"jobs": [...]}``; answers ``{"results": [Result.to_dict(), ...]}`` in order.
``GET /health``, ``GET /languages``
    the service's state (queue, sandbox, counters) and the PLs it runs.

With ``ray`` (``xpl serve --ray``), the batches run on a Ray cluster (``cluster.RayEngine``):
one executor per node, each PL's jobs on the nodes that have its toolchain; ``/languages``
and the checks of ``language`` are then the cluster's.

Requests from all clients are gathered into batches: a request waits at most ``batch_ms``
for others to join it, then its jobs go to the engine together, so compiled PLs build many
programs with one compiler call. A free lane takes the oldest request and every queued
request whose compiled PLs are among its own (interpreted PLs join any batch): each
compiled PL's programs then share one compiler call per batch, rather than every batch
paying every PL's compiler start-up for a few programs each. ``lanes`` batches run at once,
each on its own ``Engine`` with ``workers`` sandboxes (which, with more than one lane, does
not split a PL's compile over its workers: the lanes keep the cores busy); a request is
answered as soon as its own jobs are done, not when its batch is. At most ``max_pending``
jobs are accepted and unfinished at any time: beyond that a request is answered 503 with
``Retry-After`` at once. Every request has a hard
deadline (504 past it); a client that disconnects gets its queued jobs dropped. Malformed
requests get a 4xx whose ``detail`` names the field (``{"detail": "run_timeout: must be a
positive number, got -1", "field": "run_timeout"}``).

With a token, every endpoint but ``/health`` needs ``Authorization: Bearer TOKEN``, or the
token as the first segment of the path (``/t/TOKEN/run_code``) for clients that cannot send
headers (the SandboxFusion client and verl take only a URL).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import ipaddress
import json
import logging
import math
import time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from xpl.execution.client import SANDBOX_FUSION_LANGUAGES, RemoteReward, ServiceClient, ServiceError, remote_reward
from xpl.execution.cluster import RayEngine, check_address
from xpl.execution.engine import Engine, ProgramIO
from xpl.execution.job import LIMIT_MAX, FieldError, Job, Limits, Result, Status
from xpl.languages import Language, UnknownLanguage, all_languages, get_language

log = logging.getLogger("xpl.serve")

# The client side lives in xpl.execution.client (standard library only); re-exported here.
__all__ = ["Batcher", "HTTPError", "RemoteReward", "ServeConfig", "ServiceClient", "ServiceError", "create_app", "parse_jobs", "parse_run_code", "remote_reward", "run_code_response", "serve"]

MiB = 1 << 20
# SandboxFusion's defaults (RunCodeRequest): seconds.
DEFAULT_COMPILE_TIMEOUT = 10.0
DEFAULT_RUN_TIMEOUT = 10.0
# Deadline of a request: slack for queueing and batching, plus room for its compile (a batch
# that fails is rebuilt, so up to three compiler calls) and its run.
DEADLINE_SLACK_S = 30.0


@dataclass(frozen=True)
class ServeConfig:
    """Settings of ``xpl serve``; ``validate`` raises ``ValueError`` naming the bad one."""

    host: str = "127.0.0.1"
    port: int = 8080
    workers: int | None = None  # sandboxes per batch (per lane); default: cores
    lanes: int = 2  # batches running at once
    token: str | None = None
    max_pending: int = 512  # jobs accepted and not finished; beyond: 503
    batch_ms: float = 5.0  # how long a request waits for others to join its batch
    max_batch: int = 256  # jobs per batch (a larger /run request still goes whole)
    deadline_s: float = 300.0  # the longest any request may take
    max_timeout_s: float = 300.0  # largest compile_timeout / run_timeout accepted
    max_code_bytes: int = 10 * MiB  # code (UTF-8), and stdin
    max_body_bytes: int = 64 * MiB
    max_output_kb: int = 8192  # stdout + stderr of one /run_code program
    sandbox: str = "auto"
    access_log: bool = False
    ray: str | None = None  # a Ray cluster's address: run the batches there

    def validate(self) -> None:
        checks = [
            ("--port", 0 <= self.port <= 65535, "must be from 0 to 65535"),
            ("--workers", self.workers is None or 1 <= self.workers <= 64, "must be from 1 to 64"),
            ("--lanes", 1 <= self.lanes <= 16, "must be from 1 to 16"),
            ("--max-pending", self.max_pending >= 1, "must be at least 1"),
            ("--batch-ms", 0 <= self.batch_ms <= 1000, "must be from 0 to 1000"),
            ("--max-batch", self.max_batch >= 1, "must be at least 1"),
            ("--deadline", self.deadline_s > 0, "must be positive"),
            ("--max-timeout", 0 < self.max_timeout_s <= LIMIT_MAX["timeout_s"], f"must be from 0 to {LIMIT_MAX['timeout_s']}"),
            ("--max-code-bytes", self.max_code_bytes >= 1, "must be at least 1"),
            ("--max-body-bytes", self.max_body_bytes >= self.max_code_bytes, "must be at least --max-code-bytes"),
            ("--max-output-kb", 1 <= self.max_output_kb <= LIMIT_MAX["max_output_kb"], f"must be from 1 to {LIMIT_MAX['max_output_kb']}"),
            ("--token", self.token is None or (len(self.token) >= 8 and "/" not in self.token), "must be at least 8 characters, without '/'"),
        ]
        for name, ok, problem in checks:
            if not ok:
                raise ValueError(f"{name} {problem}")
        if self.sandbox not in ("auto", "bwrap", "none"):
            raise ValueError(f"--sandbox must be auto, bwrap or none, got {self.sandbox!r}")
        if self.ray is not None:
            try:
                check_address(self.ray)
            except ValueError as exc:
                raise ValueError(f"--ray {exc}") from None

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


class HTTPError(Exception):
    """An answer other than 200: ``status``, a one-line ``message`` (naming ``field`` where a
    field of the request is at fault) and extra headers."""

    def __init__(self, status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = headers or {}


def _field_error(name: str, problem: str, status: int = 422) -> HTTPError:
    return HTTPError(status, f"{name}: {problem}", field=name)


def _show(value: Any, width: int = 60) -> str:
    text = json.dumps(value) if not isinstance(value, (bytes, bytearray)) else repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


# ---------------------------------------------------------------------------- languages
# Why a PL cannot run (None: it can): here, its toolchain; on a Ray cluster, its nodes'.
Usable = Callable[[Language], "str | None"]


def _local_problem(lang: Language) -> str | None:
    return None if lang.toolchain.available else f"has no toolchain on this server: {lang.toolchain.problem}"


def cluster_usable(engine: RayEngine) -> Usable:
    def problem(lang: Language) -> str | None:
        if lang.name in engine.languages():
            return None
        return f"runs on no node of this server's Ray cluster ({engine.why_not([lang.name])})"

    return problem


def resolve_language(name: Any, where: str = "language", usable: Usable | None = None) -> Language:
    """The xpl PL of a SandboxFusion language name (or of an xpl name or alias), usable here
    (``usable``: on the cluster); else a 422 naming it."""
    if not isinstance(name, str):
        raise _field_error(where, f"must be a string, got {_show(name)}")
    xpl_name = SANDBOX_FUSION_LANGUAGES.get(name, name)
    try:
        lang = get_language(xpl_name)
    except UnknownLanguage:
        known = ", ".join(SANDBOX_FUSION_LANGUAGES)
        raise _field_error(where, f"{_show(name)} is not a language xpl serve runs; SandboxFusion names it runs: {known} (or xpl's names, see GET /languages)") from None
    problem = (usable or _local_problem)(lang)
    if problem is not None:
        raise _field_error(where, f"{_show(name)} {problem}")
    return lang


def languages_table(engine: RayEngine | None = None) -> list[dict[str, Any]]:
    """Every PL: whether it runs here (with ``engine``: on which nodes of the cluster)."""
    by_xpl: dict[str, list[str]] = {}
    for sf, xpl in SANDBOX_FUSION_LANGUAGES.items():
        by_xpl.setdefault(xpl, []).append(sf)
    rows = []
    for lang in all_languages():
        row = {
            "language": lang.name,
            "sandbox_fusion": by_xpl.get(lang.name, []),
            "aliases": list(lang.aliases),
            "compiled": lang.compiled,
            "usable": lang.toolchain.available,
            "version": lang.toolchain.version,
            "problem": lang.toolchain.problem,
        }
        if engine is not None:
            nodes = [n for n in engine.nodes if lang.name in n.languages]
            row.update(
                usable=bool(nodes),
                version=", ".join(sorted({n.languages[lang.name] for n in nodes})),
                problem="" if nodes else engine.why_not([lang.name]),
                nodes=[n.name for n in nodes],
            )
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------- /run_code
@dataclass(frozen=True)
class CodeRun:
    """One ``/run_code`` request, read: the job, its I/O, its PL."""

    job: Job
    io: ProgramIO
    lang: Language
    deadline_s: float


def _number(body: dict, name: str, default: float, ceiling: float) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _field_error(name, f"must be a number of seconds, got {_show(value)}")
    if value <= 0:
        raise _field_error(name, f"must be a positive number of seconds, got {_show(value)}")
    if value > ceiling:
        raise _field_error(name, f"must be at most {ceiling:g} seconds on this server, got {_show(value)}")
    return float(value)


def _text(body: dict, name: str, limit: int, required: bool) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise _field_error(name, "is missing")
        return None
    if not isinstance(value, str):
        raise _field_error(name, f"must be a string, got {_show(value)}")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise _field_error(name, f"holds a lone surrogate (U+{ord(value[exc.start]):04X} at character {exc.start + 1}), which is not Unicode text") from None
    if size > limit:
        raise _field_error(name, f"is {size} bytes; at most {limit} are accepted", status=413)
    return value


def _relative_path(path: Any, where: str) -> str:
    if not isinstance(path, str) or not path:
        raise _field_error(where, f"must name a file, got {_show(path)}")
    if path.startswith("/") or ".." in path.split("/") or "\0" in path:
        raise _field_error(where, f"{_show(path)} must be a relative path inside the working directory (no leading '/', no '..')")
    return path


def parse_run_code(body: Any, config: ServeConfig, usable: Usable | None = None) -> CodeRun:
    """A ``/run_code`` request body as a job, or an ``HTTPError`` naming the bad field.
    Fields it does not know are ignored, as SandboxFusion does."""
    if not isinstance(body, dict):
        raise HTTPError(422, f"body: must be a JSON object such as {{\"code\": \"print(1)\", \"language\": \"python\"}}, got {_show(body)}", field="body")
    code = _text(body, "code", config.max_code_bytes, required=True)
    assert code is not None
    if body.get("language") is None:
        raise _field_error("language", "is missing")
    lang = resolve_language(body["language"], usable=usable)
    compile_timeout = _number(body, "compile_timeout", DEFAULT_COMPILE_TIMEOUT, config.max_timeout_s)
    run_timeout = _number(body, "run_timeout", DEFAULT_RUN_TIMEOUT, config.max_timeout_s)
    stdin = _text(body, "stdin", config.max_code_bytes, required=False)
    memory = body.get("memory_limit_MB")
    memory_mb = Limits().memory_mb
    if memory is not None:
        if isinstance(memory, bool) or not isinstance(memory, (int, float)) or not math.isfinite(memory) or memory != int(memory):
            raise _field_error("memory_limit_MB", f"must be an integer number of MiB (-1: the server's default), got {_show(memory)}")
        if memory > LIMIT_MAX["memory_mb"]:
            raise _field_error("memory_limit_MB", f"must be at most {LIMIT_MAX['memory_mb']}, got {_show(memory)}")
        if memory > 0:
            memory_mb = int(memory)
    args = body.get("args")
    if args not in (None, []):
        raise _field_error("args", f"must be empty: arguments are for SandboxFusion's pytest mode, which xpl serve does not run; got {_show(args)}")
    files_in = body.get("files")
    files: list[tuple[str, bytes]] = []
    if files_in is not None:
        if not isinstance(files_in, dict):
            raise _field_error("files", f"must be an object from file path to base64 content, got {_show(files_in)}")
        for path, content in files_in.items():
            if content is None or "IGNORE_THIS_FILE" in path:
                continue  # as SandboxFusion: no content, or marked to be left out
            where = f"files[{_show(path, 40)}]"
            _relative_path(path, where)
            if not isinstance(content, str):
                raise _field_error(where, f"must be base64 text, got {_show(content)}")
            try:
                files.append((path, base64.b64decode(content, validate=True)))
            except (binascii.Error, ValueError):
                raise _field_error(where, "is not valid base64") from None
    fetch_in = body.get("fetch_files")
    fetch: list[str] = []
    if fetch_in is not None:
        if not isinstance(fetch_in, list):
            raise _field_error("fetch_files", f"must be an array of file paths, got {_show(fetch_in)}")
        fetch = [_relative_path(p, f"fetch_files[{i}]") for i, p in enumerate(fetch_in)]
    if lang.name == "php" and "<?php" not in code and not code.lstrip().startswith("<?"):
        code = "<?php\n" + code  # as SandboxFusion: PHP code without its opening tag gets one
    extra_mb = math.ceil((sum(len(c) for _, c in files) + len(stdin or "")) / MiB)
    limits = Limits(
        timeout_s=run_timeout,
        memory_mb=memory_mb,
        compile_timeout_s=compile_timeout,
        max_output_kb=config.max_output_kb,
        disk_mb=Limits().disk_mb + extra_mb,
    )
    io = ProgramIO(
        stdin=None if stdin is None else stdin.encode("utf-8"),
        files=tuple(files),
        fetch=tuple(dict.fromkeys(fetch)),
        whole_output=True,
    )
    compile_budget = 3 * compile_timeout if lang.compiled else 0.0
    deadline = min(config.deadline_s, DEADLINE_SLACK_S + compile_budget + 2 * run_timeout)
    return CodeRun(Job(lang.name, code, None, limits), io, lang, deadline)


_JVM_NOTE = "NOTE: Picked up JDK_JAVA_OPTIONS:"


def _command_result(status: str, seconds: float, return_code: int | None, stdout: str, stderr: str) -> dict[str, Any]:
    return {"status": status, "execution_time": round(seconds, 4), "cpu_time": None, "return_code": return_code, "stdout": stdout, "stderr": stderr}


def run_code_response(lang: Language, result: Result, fetched: dict[str, bytes]) -> dict[str, Any]:
    """SandboxFusion's RunCodeResponse for the engine's result of a whole program.

    A compiled PL gets a ``compile_result`` (return code 1 for a compile error: the batch
    compiler's own status is not kept), and a ``run_result`` when it compiled; an interpreted
    PL only a ``run_result``. ``return_code`` is the exit status, or minus the signal that
    killed the program (memory and output limits kill with SIGKILL); on a time-out it is
    null, as in SandboxFusion. ``message`` is empty on success, else xpl's status and why.
    """
    ran = result.exit_code is not None or result.signal is not None
    response: dict[str, Any] = {
        "status": "Success",
        "message": "",
        "compile_result": None,
        "run_result": None,
        "executor_pod_name": None,
        "files": {path: base64.b64encode(data).decode("ascii") for path, data in fetched.items()},
    }
    if result.status == Status.SANDBOX_ERROR or (not ran and not lang.compiled):
        response.update(status="SandboxError", message=f"xpl: {result.status.value}: {result.detail or 'the program could not be run'}", files={})
        return response
    timed_out = result.status == Status.TIMEOUT
    if lang.compiled:
        if ran:
            response["compile_result"] = _command_result("Finished", result.compile_s, 0, "", result.compile_output)
        else:
            response["compile_result"] = _command_result(
                "TimeLimitExceeded" if timed_out else "Finished", result.compile_s, None if timed_out else 1, "", result.compile_output
            )
    if ran:
        code = None if timed_out else (result.exit_code if result.exit_code is not None else -(result.signal or 0))
        stderr = result.stderr
        if stderr.startswith(_JVM_NOTE):  # the launcher's notice of the options xpl gives the JVM
            stderr = stderr.partition("\n")[2]
        response["run_result"] = _command_result("TimeLimitExceeded" if timed_out else "Finished", result.run_s, code, result.stdout, stderr)
    if result.status != Status.OK or not ran or response["run_result"]["return_code"] != 0:
        response["status"] = "Failed"
        response["message"] = f"xpl: {result.status.value}" + (f": {result.detail}" if result.detail else "")
    return response


# ---------------------------------------------------------------------------- /run
def parse_jobs(body: Any, config: ServeConfig, usable: Usable | None = None) -> tuple[list[Job], float]:
    """The jobs of a ``/run`` body (an array of jobs, or ``{"jobs": [...]}``) and the
    request's deadline; an ``HTTPError`` naming the first bad field."""
    if isinstance(body, dict) and set(body) == {"jobs"}:
        body = body["jobs"]
    if not isinstance(body, list):
        raise HTTPError(422, f"body: must be an array of jobs (or {{\"jobs\": [...]}}), got {_show(body)}", field="body")
    if not body:
        raise _field_error("jobs", "is empty")
    if len(body) > config.max_pending:
        raise _field_error("jobs", f"holds {len(body)} jobs; at most {config.max_pending} per request on this server", status=413)
    jobs = []
    for i, record in enumerate(body):
        where = f"jobs[{i}]"
        try:
            job = Job.from_json(record, default_id=str(i))
        except FieldError as exc:
            raise _field_error(f"{where}.{exc.field}", exc.problem) from None
        except ValueError as exc:
            raise _field_error(where, str(exc)) from None
        if len(job.program.encode("utf-8")) > config.max_code_bytes:
            raise _field_error(f"{where}.program", f"is more than {config.max_code_bytes} bytes", status=413)
        resolve_language(job.language, f"{where}.language", usable)
        jobs.append(job)
    worst = max(
        (3 * j.limits.compile_timeout_s if get_language(j.language).compiled else 0.0) + 2 * j.limits.timeout_s for j in jobs
    )
    return jobs, min(config.deadline_s, DEADLINE_SLACK_S + worst)


# ---------------------------------------------------------------------------- batching
def _compiled_language(name: str) -> str | None:
    """The PL's name if its programs are compiled (batches group them), else None."""
    try:
        lang = get_language(name)
    except UnknownLanguage:
        return name  # (a cluster's PL unknown here: its own group)
    return lang.name if lang.compiled else None


@dataclass(eq=False)
class _Ticket:
    """One request's jobs, from arrival to answer (touched on the event loop only)."""

    jobs: list[Job]
    ios: list[ProgramIO | None]
    future: asyncio.Future
    created: float
    results: list[Result | None] = field(default_factory=list)
    fetched: list[dict[str, bytes]] = field(default_factory=list)
    missing: int = 0
    compiled: frozenset[str] = frozenset()  # the compiled PLs among its jobs
    dispatched: bool = False
    cancelled: bool = False

    def __post_init__(self) -> None:
        self.compiled = frozenset(_compiled_language(job.language) for job in self.jobs) - {None}
        self.results = [None] * len(self.jobs)
        self.fetched = [{} for _ in self.jobs]
        self.missing = len(self.jobs)

    def deliver(self, i: int, result: Result, fetched: dict[str, bytes]) -> None:
        if self.results[i] is not None:
            return
        self.results[i], self.fetched[i] = result, fetched
        self.missing -= 1
        if self.missing == 0 and not self.future.done():
            self.future.set_result((self.results, self.fetched))


class Busy(HTTPError):
    def __init__(self, pending: int, retry_after: int):
        super().__init__(
            503,
            f"busy: {pending} jobs pending (the most this server takes); retry in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )


class Batcher:
    """Gathers the jobs of concurrent requests into batches and runs them on ``lanes``
    engines. Lives on the event loop; engines run in threads of their own."""

    def __init__(self, engines: list[Engine], config: ServeConfig):
        self.engines = engines
        self.config = config
        self._free = list(engines)
        self._queue: deque[_Ticket] = deque()
        self._wake = asyncio.Event()
        self._threads = ThreadPoolExecutor(max_workers=len(engines), thread_name_prefix="xpl-lane")
        self._running: set[asyncio.Task] = set()
        self._finished: deque[tuple[float, int]] = deque()  # (time, jobs) of recent batches
        self._task: asyncio.Task | None = None
        self.closing = False
        self.queued_jobs = 0
        self.pending_jobs = 0  # accepted, not finished (queued or in a running batch)
        self.stats: Counter[str] = Counter()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._dispatch())

    def submit(self, jobs: list[Job], ios: list[ProgramIO | None]) -> _Ticket:
        if self.closing:
            raise HTTPError(503, "shutting down: not taking jobs", headers={"Retry-After": "5"})
        if self.pending_jobs + len(jobs) > self.config.max_pending:
            self.stats["rejected_busy"] += 1
            raise Busy(self.pending_jobs, self.retry_after())
        loop = asyncio.get_running_loop()
        ticket = _Ticket(jobs, ios, loop.create_future(), loop.time())
        self._queue.append(ticket)
        self.queued_jobs += len(jobs)
        self.pending_jobs += len(jobs)
        self._wake.set()
        return ticket

    def cancel(self, ticket: _Ticket) -> None:
        """The request is gone (deadline, disconnect): drop its jobs if they have not started."""
        ticket.cancelled = True
        if not ticket.dispatched and ticket in self._queue:  # (shutdown may have emptied the queue)
            self._queue.remove(ticket)
            self.queued_jobs -= len(ticket.jobs)
            self.pending_jobs -= len(ticket.jobs)
            self.stats["jobs_dropped"] += len(ticket.jobs)

    def retry_after(self) -> int:
        """Seconds until the pending jobs are likely done, at the recent rate (1 to 60)."""
        now = time.monotonic()
        while self._finished and self._finished[0][0] < now - 30:
            self._finished.popleft()
        done = sum(n for _, n in self._finished)
        rate = done / 30 if done else 1.0
        return max(1, min(60, math.ceil(self.pending_jobs / max(rate, 1e-3))))

    async def _dispatch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue and self._free:
                wait = self._queue[0].created + self.config.batch_ms / 1000 - loop.time()
                if wait > 0 and self.queued_jobs < self.config.max_batch:
                    await asyncio.sleep(wait)  # let concurrent requests join the batch
                    continue
                batch, size = self._take_batch()
                engine = self._free.pop()
                task = loop.create_task(self._run_batch(engine, batch))
                self._running.add(task)
                task.add_done_callback(self._running.discard)

    def _take_batch(self) -> tuple[list[_Ticket], int]:
        """The next batch: the oldest request, and every queued request whose compiled PLs are
        among the oldest one's (requests in interpreted PLs only always fit), up to
        ``max_batch`` jobs. A compiled PL's programs then share one compiler call per batch
        instead of every batch paying that PL's compiler start-up for a handful of them; the
        oldest request always goes, so no PL waits behind the others for long."""
        first = self._queue[0]
        batch: list[_Ticket] = []
        keep: deque[_Ticket] = deque()
        size = 0
        for ticket in self._queue:
            fits = not batch or size + len(ticket.jobs) <= self.config.max_batch
            if fits and (ticket is first or ticket.compiled <= first.compiled):
                ticket.dispatched = True
                batch.append(ticket)
                size += len(ticket.jobs)
            else:
                keep.append(ticket)
        self._queue = keep
        self.queued_jobs -= size
        return batch, size

    async def _run_batch(self, engine: Engine, batch: list[_Ticket]) -> None:
        loop = asyncio.get_running_loop()
        owners = [(t, i) for t in batch for i in range(len(t.jobs))]
        jobs = [t.jobs[i] for t, i in owners]
        ios = [t.ios[i] for t, i in owners]

        finished = [False] * len(jobs)

        def finish(k: int, result: Result, fetched: dict[str, bytes]) -> None:  # event loop
            # A job stops counting as pending when its answer is delivered, not when the
            # engine's run returns: the engine still cleans up after its last result, and a
            # client that got its answer may send the next request at once.
            if not finished[k]:
                finished[k] = True
                self.pending_jobs -= 1
            ticket, i = owners[k]
            ticket.deliver(i, result, fetched)

        def on_result(k: int, result: Result, fetched: dict[str, bytes]) -> None:  # engine thread
            loop.call_soon_threadsafe(finish, k, result, fetched)

        try:
            results = await loop.run_in_executor(self._threads, lambda: engine.run(jobs, io=ios, on_result=on_result))
            for k, result in enumerate(results):  # any not streamed yet
                finish(k, result, {})
        except Exception as exc:  # noqa: BLE001 - an engine failure fails its batch, not the server
            log.error("xpl serve: a batch of %d jobs failed: %s", len(jobs), exc)
            self.stats["batches_failed"] += 1
            for ticket in batch:
                if not ticket.future.done():
                    ticket.future.set_exception(HTTPError(500, f"execution engine failed: {str(exc)[-500:]}"))
        finally:
            self.pending_jobs -= finished.count(False)
            self.stats["batches"] += 1
            self.stats["jobs_run"] += len(jobs)
            self._finished.append((time.monotonic(), len(jobs)))
            self._free.append(engine)
            self._wake.set()

    async def close(self, wait_s: float = 10.0) -> None:
        self.closing = True
        while self._queue:
            ticket = self._queue.popleft()
            if not ticket.future.done():
                ticket.future.set_exception(HTTPError(503, "shutting down: not run", headers={"Retry-After": "5"}))
        if self._running:
            await asyncio.wait(set(self._running), timeout=wait_s)
        if self._task is not None:
            self._task.cancel()
        self._threads.shutdown(wait=False, cancel_futures=True)


# ---------------------------------------------------------------------------- the app
class _TokenInPath:
    """ASGI middleware: ``/t/TOKEN/rest`` is served as ``/rest`` with TOKEN as its credential
    (for clients that take a base URL and cannot add an Authorization header)."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope.get("type") == "http" and scope.get("path", "").startswith("/t/"):
            token, _, rest = scope["path"][3:].partition("/")
            scope = dict(scope, path="/" + rest, raw_path=("/" + rest).encode(), xpl_path_token=token)
        await self.app(scope, receive, send)


def create_app(config: ServeConfig, ray_engine: RayEngine | None = None) -> _TokenInPath:
    """The ASGI application of ``xpl serve``: FastAPI behind the token-in-path rewrite
    (engines start with the app's lifespan; with ``config.ray``, one ``RayEngine`` serves
    every lane: ``ray_engine``, or one made then)."""
    config.validate()
    state: dict[str, Any] = {"usable": None, "cluster": None}

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        if config.ray is not None or ray_engine is not None:
            cluster = ray_engine or await asyncio.to_thread(
                RayEngine, config.ray, workers=config.workers, sandbox=config.sandbox, lanes=config.lanes
            )
            engines = [cluster] * config.lanes  # the lanes share its executors (each runs `lanes` batches)
            state.update(usable=cluster_usable(cluster), cluster=cluster)
        else:
            # The lanes keep the cores busy: each PL of a batch compiles in as few calls as it can.
            engines = [Engine(workers=config.workers, sandbox=config.sandbox, split_compiles=config.lanes == 1) for _ in range(config.lanes)]
        if not engines[0].sandbox.isolated:
            log.warning("xpl serve: WARNING: %s", engines[0].sandbox.detail)
        batcher = Batcher(engines, config)
        batcher.start()
        state.update(batcher=batcher, engines=engines, started=time.monotonic())
        try:
            yield
        finally:
            await batcher.close()
            for engine in engines:
                engine.close()

    app = FastAPI(title="xpl serve", description="xpl's sandboxed, batched execution engine over HTTP (SandboxFusion-compatible /run_code).", lifespan=lifespan)
    answered: Counter[str] = Counter()

    @app.exception_handler(HTTPError)
    async def _http_error(_: Request, exc: HTTPError) -> JSONResponse:
        answered[f"http_{exc.status}"] += 1
        body: dict[str, Any] = {"detail": exc.message}
        if exc.field is not None:
            body["field"] = exc.field
        return JSONResponse(body, status_code=exc.status, headers=exc.headers)

    def authorize(request: Request) -> None:
        if config.token is None:
            return
        header = request.headers.get("authorization", "")
        offered = header[7:].strip() if header[:7].lower() == "bearer " else request.scope.get("xpl_path_token", "")
        if not offered or not hmac.compare_digest(offered.encode(), config.token.encode()):
            raise HTTPError(401, "unauthorized: send Authorization: Bearer TOKEN (or use the URL /t/TOKEN/...)", headers={"WWW-Authenticate": "Bearer"})

    async def read_json(request: Request) -> Any:
        limit = config.max_body_bytes
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise HTTPError(413, f"body: {length} bytes; at most {limit} are accepted", field="body")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HTTPError(413, f"body: more than {limit} bytes; at most {limit} are accepted", field="body")
            chunks.append(chunk)
        try:
            text = b"".join(chunks).decode("utf-8-sig")
            return json.loads(text) if size < MiB else await asyncio.to_thread(json.loads, text)
        except UnicodeDecodeError:
            raise HTTPError(400, "body: not UTF-8 text", field="body") from None
        except json.JSONDecodeError as exc:
            raise HTTPError(400, f"body: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})", field="body") from None

    async def run_ticket(request: Request, jobs: list[Job], ios: list[ProgramIO | None], deadline_s: float):
        batcher: Batcher = state["batcher"]
        ticket = batcher.submit(jobs, ios)

        async def disconnected() -> None:
            while (await request.receive())["type"] != "http.disconnect":
                pass

        watch = asyncio.ensure_future(disconnected())
        try:
            done, _ = await asyncio.wait({ticket.future, watch}, timeout=deadline_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            watch.cancel()
        if ticket.future in done:
            return ticket.future.result()
        batcher.cancel(ticket)
        if watch in done:
            batcher.stats["disconnects"] += 1
            raise HTTPError(499, "client closed the request")
        batcher.stats["deadline_exceeded"] += 1
        raise HTTPError(504, f"deadline: no result within {deadline_s:g} s ({batcher.pending_jobs} jobs pending on the server)")

    @app.post("/run_code")
    async def run_code(request: Request) -> JSONResponse:
        """SandboxFusion's /run_code: one whole program, SandboxFusion's request and response."""
        authorize(request)
        run = parse_run_code(await read_json(request), config, state["usable"])
        (results, fetched) = await run_ticket(request, [run.job], [run.io], run.deadline_s)
        answered["run_code"] += 1
        return JSONResponse(run_code_response(run.lang, results[0], fetched[0]))

    @app.post("/run")
    async def run_jobs(request: Request) -> JSONResponse:
        """xpl jobs (as in an `xpl exec` file) in, the engine's results out, in order."""
        authorize(request)
        jobs, deadline_s = parse_jobs(await read_json(request), config, state["usable"])
        results, _ = await run_ticket(request, jobs, [None] * len(jobs), deadline_s)
        answered["run"] += 1
        return JSONResponse({"results": [r.to_dict() for r in results]})

    @app.get("/health")
    async def health() -> dict[str, Any]:
        batcher: Batcher = state["batcher"]
        first: Engine = state["engines"][0]
        cluster: RayEngine | None = state["cluster"]
        return {
            "status": "ok",
            "sandbox": first.sandbox.detail,
            "isolated": first.sandbox.isolated,
            "lanes": config.lanes,
            "workers": first.workers,
            "queued_jobs": batcher.queued_jobs,
            "pending_jobs": batcher.pending_jobs,
            "max_pending": config.max_pending,
            "uptime_s": round(time.monotonic() - state["started"], 1),
            "answered": dict(answered),
            "stats": dict(batcher.stats),
            **({"ray": {"nodes": [n.name for n in cluster.nodes], "left_out": dict(cluster.excluded), "stats": dict(cluster.stats)}} if cluster else {}),
        }

    @app.get("/languages")
    async def languages(request: Request) -> dict[str, Any]:
        authorize(request)
        return {"languages": languages_table(state["cluster"])}

    return _TokenInPath(app)


def serve(config: ServeConfig, ray_engine: RayEngine | None = None) -> None:
    """Run ``xpl serve`` until interrupted (uvicorn, one process: the engines are threads;
    with ``config.ray``, ``ray_engine`` runs the batches on the cluster)."""
    import uvicorn

    from xpl.execution import sandbox as sbx

    if config.ray is None:
        sbx.detect(config.sandbox)  # SandboxUnavailable now, rather than in the app's start-up
    app = create_app(config, ray_engine)
    if not config.loopback and config.token is None:
        log.warning("xpl serve: listening on %s without --token: anyone who can reach it can run code", config.host)
    uvicorn.run(
        app,
        host=config.host,
        port=config.port,
        log_level="warning",
        access_log=config.access_log,
        backlog=4096,
        timeout_graceful_shutdown=10,
    )
