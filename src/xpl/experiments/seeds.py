"""Seeds side by side: an experiment's per-seed stages in one process per seed.

An experiment (``xpl run``, ``xpl flex``) hands ``run_seeds`` a module-level function that runs
every stage of one seed, in order, into the run directory, and returns that seed's records.
With ``seed_workers`` processes (0: one per seed up to twice the cores on a CPU-only machine,
1 where a GPU or vLLM is in use) the seeds run at once, each in a spawned process with its
share of the cores and sandboxes; otherwise one after the other, here. A small model keeps a
core busier in a process of its own than as one of two threads in a shared one (on 2 cores,
two GRPO runs of the organism side by side make 1.6x the steps a minute of one run on both),
and with one thread per process the results are the same either way (tested).

Progress comes back through a queue to the caller's one ``report``. A seed that fails stops
the others (every finished stage is kept: rerun to resume) and its error is raised here, its
traceback attached as a note. A seed process ends itself when the parent is gone (``kill
-9``), so a rerun never meets last run's seed still writing into the same folders.

multiprocessing's spawn imports the caller's ``__main__`` module again in every process: a
script that calls an experiment with seeds in processes needs ``if __name__ == "__main__":``
around its work (the ``xpl`` command has it).
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable
from typing import Any

from xpl.experiments.stages import Report
from xpl.training.common import ConfigError

# run one seed: (config, work, seed, report) -> that seed's records (picklable)
SeedFunction = Callable[[Any, Any, int, Report], Any]


def seed_processes(config) -> int:
    """How many seeds run side by side: ``seed_workers``, or (0) one per seed up to twice the
    cores on a CPU-only machine and 1 where a GPU or vLLM is in use (one model per device).
    Twice: 3 seeds on 2 cores finish sooner all at once (the default ``xpl run``: 10.3
    minutes) than two and then the third alone on one thread (12.5)."""
    if config.seed_workers:
        return min(config.seed_workers, len(config.seeds))
    grpo = getattr(config, "grpo", None)
    if getattr(config.eval, "backend", "hf") == "vllm" or (grpo is not None and grpo.vllm is not None):
        return 1
    import torch

    if torch.cuda.is_available():
        return 1
    return max(1, min(len(config.seeds), 2 * (os.cpu_count() or 1)))


def run_seeds(config, run_seed: SeedFunction, work: Any, report: Report) -> dict[int, Any]:
    """``run_seed(config, work, seed, report)`` for every seed of ``config``, in processes when
    ``seed_processes`` says so; returns the records by seed."""
    processes = seed_processes(config)
    if processes <= 1:
        return {seed: run_seed(config, work, seed, report) for seed in config.seeds}
    return _in_processes(config, run_seed, work, processes, report)


def _in_processes(config, run_seed: SeedFunction, work: Any, processes: int, report: Report) -> dict[int, Any]:
    import multiprocessing
    import queue as queues

    cores = os.cpu_count() or 1
    threads = max(1, cores // processes)
    config = copy.deepcopy(config)
    config.workers = config.workers or threads  # sandboxes per process: the cores, shared
    context = multiprocessing.get_context("spawn")
    messages = context.Queue()
    todo, running, results = list(config.seeds), {}, {}

    def handle(message) -> None:
        kind, seed, payload = message
        if kind == "progress":
            report(*payload)
        elif kind == "done":
            results[seed] = payload
        else:
            raise payload

    try:
        while todo or running:
            while todo and len(running) < processes:
                seed = todo.pop(0)
                args = (run_seed, config, work, seed, threads, messages, os.getpid())
                running[seed] = context.Process(target=_seed_process, args=args, name=f"xpl-seed{seed}")
                running[seed].start()
            try:
                handle(messages.get(timeout=1.0))
            except queues.Empty:
                pass
            for seed, process in list(running.items()):
                if seed in results:
                    process.join()
                    del running[seed]
                elif not process.is_alive():  # exited: read what it said last, else it died silently
                    while seed not in results:
                        try:
                            handle(messages.get(timeout=1.0))
                        except queues.Empty:
                            raise RuntimeError(
                                f"the process of seed {seed} ended (exit code {process.exitcode}) without finishing; "
                                "its finished stages are kept: rerun the same command to resume"
                            ) from None
    finally:
        for process in running.values():
            if process.is_alive():
                process.terminate()
            process.join()
    return results


def _seed_process(run_seed: SeedFunction, config, work: Any, seed: int, threads: int, messages, parent: int) -> None:
    """A seed's process: its threads, its stages; progress, the records or the error go to
    ``messages``. It ends itself when ``parent`` is gone."""
    import pickle
    import threading
    import traceback

    def orphaned() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=orphaned, daemon=True, name="xpl-parent-watch").start()
    os.environ["OMP_NUM_THREADS"] = str(threads)
    from xpl.training.common import limit_threads

    limit_threads()
    import torch

    torch.set_num_threads(threads)
    try:
        records = run_seed(config, work, seed, lambda *progress: messages.put(("progress", seed, progress)))
        messages.put(("done", seed, records))
    except BaseException as exc:  # noqa: BLE001 - every failure goes to the parent, which raises it
        note = f"in the process of seed {seed}:\n{traceback.format_exc()}"
        try:
            pickle.dumps(exc)
        except Exception:  # noqa: BLE001 - an error the parent could not rebuild: its text then
            exc = RuntimeError(f"{type(exc).__name__}: {exc}")
        if not isinstance(exc, ConfigError):
            exc.add_note(note)
        messages.put(("error", seed, exc))
