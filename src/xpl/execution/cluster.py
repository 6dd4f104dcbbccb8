"""Execution on a Ray cluster: the engine's batches spread over the nodes.

``RayEngine`` has ``Engine``'s interface (``run(jobs, progress, io=, on_result=)``,
``sandbox``, ``workers``, ``store``, ``close``), so ``xpl exec --ray``, ``xpl serve --ray``
and GRPO's reward (``grpo.execution.ray``) use it in place of the local engine:

* one actor per alive node (``_NodeExecutor``, pinned to its node, holding ``lanes`` local
  ``Engine``s). On start each actor reports its node's PLs (those whose toolchain exists
  there, narrowed by ``XPL_LANGUAGES=python,lua`` in the environment ``ray start`` ran in),
  their toolchain versions and its sandbox;
* jobs are grouped per PL (identical jobs once) and split into chunks, each sent to a node
  that runs its PL, at most ``lanes + 1`` chunks queued per actor, the least loaded first;
  a chunk is one ``Engine.run`` on its node, so compiled PLs still build in batches;
* results come back in input order. A chunk whose actor dies (process killed, node lost)
  is run again, in halves, on another actor; a job takes only the first result that comes
  back for it, so every job gets exactly one. A job whose executor died ``max_attempts``
  times gets a ``sandbox_error`` (not stored);
* the results store stays on the driver: a job whose key (for the toolchain version of any
  node that runs its PL) is in the store is not sent anywhere, and every result is stored as
  it arrives, so a killed run resumes where it stopped.

``run_tasks`` runs plain function calls as Ray tasks (``xpl scaling sweep --ray``).
Every node needs the same xpl (and Ray) installed as the driver, and its own toolchains.
"""

from __future__ import annotations

import logging
import math
import os
import re
import socket
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

from xpl.execution.engine import Engine, OnResult, ProgramIO, Progress, cache_key
from xpl.execution.job import PROTOCOL_VERSION, Job, Result, Status
from xpl.execution.sandbox import SandboxInfo
from xpl.execution.store import Store
from xpl.languages import all_languages, get_language
from xpl.languages.base import ToolchainMissing

log = logging.getLogger("xpl.execution")

NAMESPACE = "xpl"
RAY_REQUIREMENT = "ray[client]==2.60.0"  # as pinned in requirements.lock
LANGUAGES_ENV = "XPL_LANGUAGES"  # on a node: the PLs it offers (comma-separated), of those it has
_ADDRESS = re.compile(r"(?:ray://)?(\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+):(\d{1,5})")
_connect_lock = threading.Lock()
# Executors are shared by the RayEngines of one process that ask for the same settings (an
# engine for the reward, another for evaluation): key -> [actor, number of engines using it].
_shared: dict[tuple, list] = {}
_shared_lock = threading.Lock()


class ClusterUnavailable(RuntimeError):
    """No Ray cluster to use (none running, unreachable, Ray not installed, no usable node);
    the message is one line saying which and what to do."""


# ---------------------------------------------------------------------------- connecting
def check_address(address: str) -> str:
    """``address`` when it is ``auto``, ``ray://HOST:PORT`` (Ray Client, port 10001 by
    default) or ``HOST:PORT`` (the head's GCS, port 6379 by default); ValueError otherwise."""
    if not isinstance(address, str) or not (address == "auto" or _ADDRESS.fullmatch(address)):
        raise ValueError(f"expected auto, ray://HOST:PORT or HOST:PORT, got {address!r}")
    return address


def connect(address: str | None = None):
    """The ``ray`` module, connected to the cluster at ``address`` (None: ``auto``, the
    cluster started on this machine with ``ray start``, or ``RAY_ADDRESS``). A process already
    connected keeps its connection. Raises ``ClusterUnavailable`` (one line) when there is
    no cluster there, rather than starting a private one."""
    address = check_address((address or "auto").strip())
    try:
        import ray
    except ImportError:
        raise ClusterUnavailable(f"Ray is not installed here: pip install '{RAY_REQUIREMENT}' (on every node too)") from None
    with _connect_lock:
        if ray.is_initialized():
            return ray
        target = os.environ.get("RAY_ADDRESS", "").strip() if address == "auto" else address
        if target and target != "auto":
            _probe(address, target)
        elif address == "auto":
            target = _local_cluster(ray)
        try:
            ray.init(address=target or address, namespace=NAMESPACE, log_to_driver=False, logging_level=logging.WARNING)
        except ConnectionError as exc:
            if address == "auto" and not os.environ.get("RAY_ADDRESS", "").strip():
                raise ClusterUnavailable(
                    "no Ray cluster is running on this machine (--ray auto): start one with `ray start --head`, "
                    "or give the address of one: --ray ray://HEAD:10001"
                ) from None
            raise ClusterUnavailable(f"cannot connect to the Ray cluster at {target or address}: {_first_line(exc)}") from None
        except (RuntimeError, TimeoutError, ValueError) as exc:
            raise ClusterUnavailable(f"cannot connect to the Ray cluster at {target or address}: {_first_line(exc)}") from None
    return ray


def _local_cluster(ray) -> str:
    """The address ``auto`` means here (the cluster ``ray start`` last started on this
    machine, or a running one), checked to answer: a cluster stopped without ``ray stop``
    leaves its address behind, and Ray would wait minutes on it. "" when Ray finds none."""
    try:
        from ray._private.services import canonicalize_bootstrap_address

        found = canonicalize_bootstrap_address("auto")
    except ConnectionError:
        return ""
    except Exception:  # noqa: BLE001 - Ray's internals moved: let ray.init find it
        return ""
    if not found:
        return ""
    m = _ADDRESS.fullmatch(found)
    if m is None:
        return ""
    host, port = m.group(1).strip("[]"), int(m.group(2))
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError:
        raise ClusterUnavailable(
            f"no Ray cluster is running on this machine (--ray auto): the last one started here ({found}) does not answer; "
            "start one with `ray start --head`, or give the address of one: --ray ray://HEAD:10001"
        ) from None
    return found


def _probe(given: str, address: str) -> None:
    """Fail fast (5 s) where nothing listens at ``address``: Ray itself waits minutes."""
    m = _ADDRESS.fullmatch(address)
    if m is None:
        raise ClusterUnavailable(f"RAY_ADDRESS={address!r} is not an address (expected ray://HOST:PORT or HOST:PORT)")
    host, port = m.group(1).strip("[]"), int(m.group(2))
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as exc:
        what = "--ray auto (RAY_ADDRESS)" if given == "auto" else "--ray"
        reason = exc.strerror or type(exc).__name__
        raise ClusterUnavailable(
            f"no Ray cluster at {address} ({what}): cannot reach {host}:{port} ({reason}); "
            "start one with `ray start --head` there, or check the address and port"
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:400]


# ---------------------------------------------------------------------------- the node side
class _NodeExecutor:
    """Body of the Ray actor on one node: ``lanes`` local engines (one ``run`` each at a time)."""

    def __init__(self, workers: int | None, sandbox: str, lanes: int):
        import queue

        import ray

        self._engines = [Engine(workers=workers, sandbox=sandbox) for _ in range(lanes)]
        self._free: queue.SimpleQueue = queue.SimpleQueue()
        for engine in self._engines:
            self._free.put(engine)
        languages, unavailable = _node_languages(os.environ.get(LANGUAGES_ENV))
        info = self._engines[0].sandbox
        self._info = {
            "node_id": ray.get_runtime_context().get_node_id(),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "protocol": PROTOCOL_VERSION,
            "sandbox": info.kind,
            "switch_users": info.switch_users,
            "sandbox_detail": info.detail,
            "workers": self._engines[0].workers,
            "languages": languages,
            "unavailable": unavailable,
        }

    def info(self) -> dict[str, Any]:
        return self._info

    def run(self, jobs: list[Job], ios: list[ProgramIO | None]) -> list[tuple[Result, dict[str, bytes]]]:
        engine = self._free.get()
        try:
            fetched: dict[int, dict[str, bytes]] = {}

            def keep(i: int, _result: Result, files: dict[str, bytes]) -> None:
                if files:
                    fetched[i] = files

            results = engine.run(jobs, io=ios, on_result=keep)
        finally:
            self._free.put(engine)
        return [(r, fetched.get(i, {})) for i, r in enumerate(results)]


def _node_languages(offered: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """(PL -> toolchain version) of the PLs this node runs, and (PL -> why not) of the others.
    ``offered``: the value of XPL_LANGUAGES (None: every PL whose toolchain exists)."""
    allowed = None
    if offered is not None and offered.strip():
        allowed = {get_language(name.strip()).name for name in offered.split(",") if name.strip()}
    languages, unavailable = {}, {}
    for lang in all_languages():
        tc = lang.toolchain
        if not tc.available:
            unavailable[lang.name] = tc.problem
        elif allowed is not None and lang.name not in allowed:
            unavailable[lang.name] = f"not offered by this node ({LANGUAGES_ENV}={offered})"
        else:
            languages[lang.name] = tc.version
    return languages, unavailable


# ---------------------------------------------------------------------------- the driver side
@dataclass
class NodeInfo:
    """What the executor on one node reported when it started."""

    node_id: str
    host: str
    pid: int
    protocol: int
    sandbox: str
    switch_users: bool
    sandbox_detail: str
    workers: int
    languages: dict[str, str]  # PL -> toolchain version
    unavailable: dict[str, str]  # PL -> why this node does not run it

    @property
    def name(self) -> str:
        return f"{self.host} ({self.node_id[:8]})"


@dataclass(eq=False)
class _Actor:
    handle: Any
    info: NodeInfo


@dataclass(eq=False)
class _Chunk:
    language: str
    reps: list[int]  # indices (into the call's jobs) of the jobs it runs
    attempts: int = 0
    tried: set = field(default_factory=set)  # node ids whose executor lost it
    last_error: str = ""


class RayEngine:
    """An ``Engine`` whose jobs run on the nodes of a Ray cluster (module docstring).
    ``workers``: sandboxes per node (default: the node's cores); ``lanes``: ``run`` calls one
    node serves at once (each on its own engine there); ``chunk_size``: the most jobs sent to
    a node in one piece. Thread-safe: concurrent ``run`` calls share the executors."""

    def __init__(
        self,
        address: str | None = None,
        *,
        workers: int | None = None,
        store: Store | str | os.PathLike | None = None,
        sandbox: str = "auto",
        lanes: int = 1,
        chunk_size: int = 64,
        max_attempts: int = 3,
        start_timeout_s: float = 180.0,
    ):
        if sandbox not in ("auto", "bwrap", "none"):
            raise ValueError(f"sandbox must be auto, bwrap or none, got {sandbox!r}")
        self._ray = connect(address)
        self.address = address or "auto"
        self.node_workers = workers
        self.sandbox_mode = sandbox
        self.lanes = max(1, lanes)
        self.chunk_size = max(1, chunk_size)
        self.max_attempts = max(1, max_attempts)
        self.start_timeout_s = start_timeout_s
        self.store: Store | None = None
        self.stats: Counter[str] = Counter()
        self.excluded: dict[str, str] = {}  # node name -> why it runs nothing
        self.last_nodes: list[str | None] = []  # the last run's node per job (None: from the store)
        self._actors: dict[str, _Actor] = {}  # node id -> its executor
        self._lock = threading.RLock()
        self._closed = False
        self.refresh()
        if not self._actors:
            why = "; ".join(f"{k}: {v}" for k, v in self.excluded.items()) or "the cluster has no alive node"
            raise ClusterUnavailable(f"no node of the Ray cluster can run jobs: {why}")
        self.store = Store(store) if isinstance(store, (str, os.PathLike)) else store

    # ------------------------------------------------------------------ the cluster
    def refresh(self) -> None:
        """Start an executor on every alive node that has none (nodes that joined, or whose
        executor died), and forget those of nodes that left."""
        ray = self._ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        with self._lock:
            alive = {n["NodeID"]: n for n in ray.nodes() if n.get("Alive")}
            for node_id in [k for k in self._actors if k not in alive]:
                self._forget(node_id)
            cls = ray.remote(_NodeExecutor)
            started = {}
            for node_id in alive:
                if node_id in self._actors:
                    continue
                with _shared_lock:
                    entry = _shared.get(self._key(node_id))
                    if entry is not None:
                        entry[1] += 1
                        self._actors[node_id] = entry[0]
                        continue
                handle = cls.options(
                    num_cpus=0,
                    max_concurrency=self.lanes,
                    max_restarts=0,
                    scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
                ).remote(self.node_workers, self.sandbox_mode, self.lanes)
                started[node_id] = (handle, handle.info.remote())
            if not started:
                return
            refs = [ref for _, ref in started.values()]
            ray.wait(refs, num_returns=len(refs), timeout=self.start_timeout_s)
            for node_id, (handle, ref) in started.items():
                where = alive[node_id].get("NodeManagerHostname") or alive[node_id].get("NodeManagerAddress") or "?"
                name = f"{where} ({node_id[:8]})"
                try:
                    info = NodeInfo(**ray.get(ref, timeout=0))
                except Exception as exc:  # noqa: BLE001 - a node that cannot start its executor is left out, with why
                    reason = _first_line(getattr(exc, "cause", None) or exc)
                    if isinstance(exc, ray.exceptions.GetTimeoutError):
                        reason = f"its executor did not start within {self.start_timeout_s:g} s"
                    self.excluded[name] = reason
                    log.warning("xpl ray: node %s left out: %s", name, reason)
                    self._kill(handle)
                    continue
                if info.protocol != PROTOCOL_VERSION:
                    self.excluded[name] = f"runs xpl result protocol {info.protocol}, this driver {PROTOCOL_VERSION}: install the same xpl there"
                    self._kill(handle)
                    continue
                self.excluded.pop(name, None)
                actor = _Actor(handle, info)
                with _shared_lock:
                    entry = _shared.setdefault(self._key(node_id), [actor, 0])
                    entry[1] += 1
                if entry[0] is not actor:  # another engine started one meanwhile
                    self._kill(handle)
                self._actors[node_id] = entry[0]

    def _key(self, node_id: str) -> tuple:
        try:
            connection = self._ray.get_runtime_context().get_job_id()
        except Exception:  # noqa: BLE001
            connection = None
        return (connection, node_id, self.node_workers, self.sandbox_mode, self.lanes)

    @property
    def nodes(self) -> list[NodeInfo]:
        with self._lock:
            return [a.info for a in self._actors.values()]

    def languages(self) -> dict[str, list[str]]:
        """PL -> the nodes (names) that run it."""
        out: dict[str, list[str]] = {}
        for info in self.nodes:
            for lang in info.languages:
                out.setdefault(lang, []).append(info.name)
        return dict(sorted(out.items()))

    @property
    def workers(self) -> int:
        return sum(info.workers for info in self.nodes)

    @property
    def sandbox(self) -> SandboxInfo:
        """The weakest sandbox of the nodes (``none`` when any node runs without one)."""
        nodes = self.nodes
        isolated = bool(nodes) and all(i.sandbox == "bwrap" for i in nodes)
        weak = [i for i in nodes if i.sandbox != "bwrap"]
        detail = f"Ray cluster, {len(nodes)} node(s): " + "; ".join(f"{i.name}: {i.sandbox_detail}" for i in (weak or nodes[:1]))
        return SandboxInfo("bwrap" if isolated else "none", isolated and all(i.switch_users for i in nodes), detail)

    def _forget(self, node_id: str, handle: Any = None, dead: bool = True) -> None:
        """Stop using the executor on ``node_id`` (only if it is ``handle``, when given): it is
        ``dead`` (or its node is), or this engine closes and is its last user."""
        with self._lock:
            actor = self._actors.get(node_id)
            if actor is None or (handle is not None and actor.handle is not handle):
                return
            del self._actors[node_id]
            with _shared_lock:
                key = self._key(node_id)
                entry = _shared.get(key)
                last = True
                if entry is not None and entry[0] is actor:
                    entry[1] -= 1
                    last = dead or entry[1] <= 0
                    if last:
                        del _shared[key]
            if last:
                self._kill(actor.handle)

    def _kill(self, handle: Any) -> None:
        try:
            self._ray.kill(handle, no_restart=True)
        except Exception:  # noqa: BLE001 - already gone
            pass

    def close(self) -> None:
        """Stop this engine's executors (the cluster and the connection stay)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for node_id in list(self._actors):
                self._forget(node_id, dead=False)
        if self.store is not None:
            self.store.close()

    # ------------------------------------------------------------------ running
    def run(
        self,
        jobs: Iterable[Job],
        progress: Progress | None = None,
        *,
        io: Sequence[ProgramIO | None] | None = None,
        on_result: OnResult | None = None,
    ) -> list[Result]:
        """As ``Engine.run``: the results of ``jobs`` in order, ``on_result(i, result,
        fetched)`` as each arrives (cached ones first). Raises ``ToolchainMissing`` when no
        node runs a job's PL."""
        ray = self._ray
        jobs = list(jobs)
        ios = list(io) if io is not None else [None] * len(jobs)
        if len(ios) != len(jobs):
            raise ValueError(f"io has {len(ios)} entries for {len(jobs)} jobs")
        names = []
        for i, job in enumerate(jobs):
            try:
                names.append(get_language(job.language).name)
            except ValueError as exc:
                raise ValueError(f"job {job.id or i}: {exc}") from None
        self.refresh()
        with self._lock:
            actors = list(self._actors.values())
        missing = sorted({n for n in names if not any(n in a.info.languages for a in actors)})
        if missing:
            raise ToolchainMissing(f"cannot run these jobs: no node of the Ray cluster runs {', '.join(missing)} ({self.why_not(missing, actors)})")

        results: list[Result | None] = [None] * len(jobs)
        done = 0

        def deliver(i: int, result: Result, fetched: dict[str, bytes]) -> None:
            nonlocal done
            if results[i] is not None:  # never two results for one job
                self.stats["results_dropped"] += 1
                return
            results[i] = result
            done += 1
            if on_result is not None:
                on_result(i, result, dict(fetched))
            if progress is not None:
                progress(done, len(jobs))

        # The store: a key for each toolchain version the cluster runs the job's PL with.
        cacheable = [p is None or not p.fetch for p in ios]
        todo = list(range(len(jobs)))
        if self.store is not None:
            versions = {n: sorted({a.info.languages[n] for a in actors if n in a.info.languages}) for n in set(names)}
            keys = {i: [cache_key(jobs[i], names[i], v, ios[i]) for v in versions[names[i]]] for i in todo if cacheable[i]}
            found = self.store.get_many(k for ks in keys.values() for k in ks)
            todo = []
            for i in range(len(jobs)):
                hit = next((found[k] for k in keys.get(i, ()) if k in found), None)
                if hit is None:
                    todo.append(i)
                    continue
                r = Result.from_dict(hit.to_dict())
                r.id, r.cached = jobs[i].id, True
                deliver(i, r, {})
            self.stats["cached"] += len(jobs) - len(todo)
        if progress is not None:
            progress(done, len(jobs))

        # Identical jobs run once; the others are chunked per PL.
        copies: dict[int, list[int]] = {}
        first: dict[str, int] = {}
        for i in todo:
            ident = cache_key(jobs[i], names[i], "", ios[i])
            rep = first.setdefault(ident, i)
            copies.setdefault(rep, []).append(i)
        pending: deque[_Chunk] = deque()
        by_lang: dict[str, list[int]] = {}
        for rep in copies:
            by_lang.setdefault(names[rep], []).append(rep)
        for lang, reps in by_lang.items():
            capable = sum(lang in a.info.languages for a in actors)
            size = max(1, min(self.chunk_size, math.ceil(len(reps) / (2 * capable))))
            pending.extend(_Chunk(lang, reps[k : k + size]) for k in range(0, len(reps), size))

        placed: list[str | None] = [None] * len(jobs)  # node that ran each job (None: cached or not run)

        def finish(chunk: _Chunk, outcome: list[tuple[Result, dict[str, bytes]]], node: str | None = None) -> None:
            for rep, (result, fetched) in zip(chunk.reps, outcome):
                if self.store is not None and result.key:
                    self.store.put(result)
                for i in copies[rep]:
                    placed[i] = node
                    r = Result.from_dict(result.to_dict())
                    r.id, r.cached = jobs[i].id, False
                    deliver(i, r, fetched)

        inflight: dict[Any, tuple[_Chunk, _Actor]] = {}
        load: Counter[str] = Counter()
        refreshed = 0
        try:
            while pending or inflight:
                with self._lock:
                    live = list(self._actors.values())
                for chunk in list(pending):
                    actor = self._pick(chunk, live, load)
                    if actor is None:
                        continue
                    pending.remove(chunk)
                    ref = actor.handle.run.remote([jobs[i] for i in chunk.reps], [ios[i] for i in chunk.reps])
                    inflight[ref] = (chunk, actor)
                    load[actor.info.node_id] += 1
                    self.stats["chunks_sent"] += 1
                if not inflight:  # chunks left, and no executor alive runs their PL
                    if refreshed < self.max_attempts:
                        refreshed += 1
                        self.refresh()
                        continue
                    lost = sorted({c.language for c in pending})
                    raise RuntimeError(f"no node of the Ray cluster can run {', '.join(lost)} any more: {pending[0].last_error}")
                ready, _ = ray.wait(list(inflight), num_returns=1)
                for ref in ready:
                    chunk, actor = inflight.pop(ref)
                    load[actor.info.node_id] -= 1
                    try:
                        outcome = ray.get(ref)
                    except ray.exceptions.RayTaskError as exc:  # the engine itself failed there
                        chunk.attempts += 1
                        chunk.tried.add(actor.info.node_id)
                        chunk.last_error = f"{actor.info.name}: {_first_line(exc.cause if getattr(exc, 'cause', None) else exc)}"
                        self.stats["chunks_failed"] += 1
                        if chunk.attempts >= self.max_attempts:
                            raise RuntimeError(f"execution engine failed on the Ray cluster: {chunk.last_error}") from None
                        pending.appendleft(chunk)
                    except ray.exceptions.RayError as exc:  # the executor (or its node) is gone
                        if self._lost(chunk, actor, exc, pending):
                            i = chunk.reps[0]
                            detail = f"not run: its executor died {chunk.attempts} times (last: {chunk.last_error})"[:2000]
                            finish(chunk, [(Result(Status.SANDBOX_ERROR, names[i], total=jobs[i].num_tests or 1, detail=detail), {})])
                    else:
                        finish(chunk, outcome, actor.info.name)
        finally:
            for ref in inflight:  # interrupted: what is queued on the executors is not needed
                try:
                    ray.cancel(ref)
                except Exception:  # noqa: BLE001
                    pass
        if any(r is None for r in results):
            gaps = [i for i, r in enumerate(results) if r is None]
            raise RuntimeError(f"Ray execution lost jobs {gaps[:10]}")
        self.stats["jobs"] += len(jobs)
        self.last_nodes = placed
        return results  # type: ignore[return-value]

    def _pick(self, chunk: _Chunk, live: list[_Actor], load: Counter) -> _Actor | None:
        """The least loaded executor that runs the chunk's PL and has room, preferring nodes
        that have not lost this chunk before."""
        room = [a for a in live if chunk.language in a.info.languages and load[a.info.node_id] < self.lanes + 1]
        if not room:
            return None
        return min(room, key=lambda a: (a.info.node_id in chunk.tried, load[a.info.node_id]))

    def _lost(self, chunk: _Chunk, actor: _Actor, exc: Exception, pending: deque) -> bool:
        """The executor running ``chunk`` died: forget it and queue the chunk again, in halves,
        for another one. True when the chunk is one job that has now lost ``max_attempts``
        executors: it gets a ``sandbox_error`` rather than another try."""
        self.stats["executors_lost"] += 1
        chunk.attempts += 1
        chunk.tried.add(actor.info.node_id)
        chunk.last_error = f"the executor on {actor.info.name} died: {_first_line(exc)}"
        log.warning("xpl ray: %s; running its %d jobs again", chunk.last_error, len(chunk.reps))
        self._forget(actor.info.node_id, actor.handle)
        if chunk.attempts >= self.max_attempts and len(chunk.reps) == 1:
            return True
        halves = [chunk.reps] if len(chunk.reps) == 1 else [chunk.reps[: len(chunk.reps) // 2], chunk.reps[len(chunk.reps) // 2 :]]
        for reps in reversed(halves):
            pending.appendleft(_Chunk(chunk.language, reps, chunk.attempts, set(chunk.tried), chunk.last_error))
        self.stats["chunks_retried"] += 1
        return False

    def why_not(self, missing: Sequence[str], actors: list[_Actor] | None = None) -> str:
        """Why no node runs the PLs of ``missing``, in one line (what each node said)."""
        if actors is None:
            with self._lock:
                actors = list(self._actors.values())
        reasons = []
        for lang in missing:
            seen = {a.info.unavailable.get(lang, "") for a in actors} - {""}
            reasons.append(f"{lang}: {'; '.join(sorted(seen)) or 'no node'}")
        if self.excluded:
            reasons.append("left out: " + "; ".join(f"{k}: {v}" for k, v in self.excluded.items()))
        return "; ".join(reasons)


def make_engine(ray: str | None = None, *, workers: int | None = None, store: Store | str | None = None, sandbox: str = "auto", languages: Sequence[str] = ()):
    """The local ``Engine`` (``ray`` None), or a ``RayEngine`` on the cluster at ``ray`` that
    runs every PL of ``languages`` (else ``ToolchainMissing``)."""
    if ray is None:
        return Engine(workers=workers, store=store, sandbox=sandbox)
    engine = RayEngine(ray, workers=workers, store=store, sandbox=sandbox)
    have = engine.languages()
    missing = [get_language(n).name for n in languages if get_language(n).name not in have]
    if missing:
        why = engine.why_not(missing)
        engine.close()
        raise ToolchainMissing(f"no node of the Ray cluster runs {', '.join(missing)} ({why})")
    return engine


# ---------------------------------------------------------------------------- plain tasks
def _call_task(fn: Callable, args: tuple, cwd: str, requires: Sequence[str]) -> Any:
    """A task's body on its node: in the driver's working directory, once the paths the call
    needs are there (they are, on a file system every node shares)."""
    if os.path.isdir(cwd):
        os.chdir(cwd)
    gone = [p for p in requires if not os.path.exists(p)]
    if gone:
        raise FileNotFoundError(
            f"node {socket.gethostname()}: {gone[0]} does not exist there (the driver's folder {cwd}); "
            "with --ray, keep the work on a file system every node mounts at the same path"
        )
    return fn(*args)


def run_tasks(
    fn: Callable,
    calls: Sequence[tuple],
    address: str | None = None,
    *,
    num_cpus: float = 1,
    requires: Sequence[str] = (),
    max_retries: int = 3,
) -> Iterator[tuple[int, Any]]:
    """``fn(*args)`` for every ``args`` of ``calls``, each as a Ray task asking for
    ``num_cpus`` CPUs, run in the driver's working directory on whichever node has room (a
    task lost with its node is run again, up to ``max_retries`` times). Yields (index in
    ``calls``, return value) as they finish; an exception in a task is raised here (the
    tasks not yet finished are cancelled). ``requires``: paths each task checks first."""
    ray = connect(address)
    cpus = [n.get("Resources", {}).get("CPU", 0) for n in ray.nodes() if n.get("Alive")]
    if not cpus or num_cpus > max(cpus):
        raise ClusterUnavailable(
            f"each task asks for {num_cpus:g} CPU(s) but the largest node of the Ray cluster has {max(cpus, default=0):g}: ask for fewer (--threads)"
        )
    remote = ray.remote(_call_task).options(num_cpus=num_cpus, max_retries=max_retries)
    cwd = os.getcwd()
    refs = {remote.remote(fn, tuple(args), cwd, list(requires)): i for i, args in enumerate(calls)}
    try:
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            for ref in ready:
                i = refs.pop(ref)
                try:
                    value = ray.get(ref)
                except ray.exceptions.RayTaskError as exc:
                    cause = getattr(exc, "cause", None)
                    raise (cause if isinstance(cause, Exception) else exc) from None
                yield i, value
    finally:
        for ref in refs:
            try:
                ray.cancel(ref)
            except Exception:  # noqa: BLE001
                pass
