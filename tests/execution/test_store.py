"""The results store opened by several processes at once (the seed processes of one run)."""

import multiprocessing

from xpl.execution.store import Store


def _open(path: str, barrier, errors) -> None:
    barrier.wait()
    try:
        Store(path).get_many(["nothing"])
    except Exception as exc:  # noqa: BLE001 - the test reports what went wrong
        errors.put(f"{type(exc).__name__}: {exc}")


def test_many_processes_open_a_new_store_together(tmp_path):
    context = multiprocessing.get_context("fork")
    errors = context.Queue()
    for round_ in range(12):  # a new file each round: the switch to WAL is where they collide
        barrier = context.Barrier(6)
        path = str(tmp_path / f"results-{round_}.sqlite")
        processes = [context.Process(target=_open, args=(path, barrier, errors)) for _ in range(6)]
        for p in processes:
            p.start()
        for p in processes:
            p.join(60)
            assert p.exitcode == 0
    found = []
    while not errors.empty():
        found.append(errors.get())
    assert not found, found[:3]
