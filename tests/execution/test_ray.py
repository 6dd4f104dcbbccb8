"""The Ray execution backend on a real local cluster of two nodes (``ray.cluster_utils``).

The head node runs every PL here; the second node offers only Python, JavaScript and Lua
(``XPL_LANGUAGES``), so routing by PL is visible. One cluster and one engine serve the whole
module (starting them is most of its time).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.slow import slow
from xpl.execution import Engine, Job, Limits, Status, Store
from xpl.execution.cluster import ClusterUnavailable, RayEngine, check_address, connect, make_engine, run_tasks
from xpl.languages import get_language
from xpl.languages.demo import DEMO_DOC, DEMO_SIG, DEMO_TESTS, demo_bodies

pytestmark = slow  # a cluster takes ~20 s to start (tests/slow.py)

ray = pytest.importorskip("ray", reason="ray is pinned in requirements.lock; install it with `make setup`")

SMALL = 80 * 1024 * 1024  # object store per node: the least Ray accepts, roughly
WORKER_PLS = "python,javascript,lua"
# Fields that depend on the run, not on the program: timings, batching, the cache flag.
VOLATILE = {"compile_s", "run_s", "peak_rss_kb", "cached", "compile_output"}


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    assert not ray.is_initialized()
    head = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "object_store_memory": SMALL, "include_dashboard": False})
    os.environ["XPL_LANGUAGES"] = WORKER_PLS  # inherited by the second node's raylet and workers only
    try:
        head.add_node(wait=False, num_cpus=1, object_store_memory=SMALL)
    finally:
        del os.environ["XPL_LANGUAGES"]
    head.wait_for_nodes()
    ray.init(address=head.address, namespace="xpl-test", log_to_driver=False)
    yield head
    ray.shutdown()
    head.shutdown()


@pytest.fixture(scope="module")
def ray_engine(cluster):
    eng = RayEngine(cluster.address, chunk_size=8)
    yield eng
    eng.close()


def _mixed_jobs() -> list[Job]:
    """Right, wrong and broken programs in PLs both nodes run, and in PLs only the head runs
    (among them a compiled one), plus a duplicate."""
    jobs = []
    for name in ("python", "javascript", "lua", "ruby", "php", "cpp"):
        lang = get_language(name)
        if not lang.toolchain.available:
            continue
        for kind, body in demo_bodies(lang.name).items():
            program = lang.program(DEMO_SIG, DEMO_DOC, body, DEMO_TESTS)
            jobs.append(Job(lang.name, program, limits=Limits(timeout_s=20), id=f"{name}/{kind}", expected=lang.expected_results(DEMO_SIG, DEMO_TESTS)))
    jobs.append(Job(jobs[0].language, jobs[0].program, limits=jobs[0].limits, id="dup", expected=jobs[0].expected))
    jobs.append(Job("python", "import sys\nprint('out'); print('err', file=sys.stderr); sys.exit(3)\n", id="exit3"))
    return jobs


def _fixed(record: dict) -> dict:
    """A result without what changes from run to run: timings, the harness's nonce, and the
    program's folder in its batch's build (which depends on the batching, as with -j)."""
    return {k: re.sub(r"[^\s'\"]*/c\d+/", "<build>/", re.sub(r"@@xpl [0-9a-f]+ ", "@@xpl - ", v)) if isinstance(v, str) else v for k, v in record.items() if k not in VOLATILE}


def _same(a, b) -> dict:
    """The fields in which two results differ (empty: the same)."""
    da, db = _fixed(a.to_dict()), _fixed(b.to_dict())
    return {k: (da[k], db[k]) for k in da if da[k] != db[k]}


def _sleepers(n: int, seconds: float, tag: str) -> list[Job]:
    return [Job("python", f"import time\ntime.sleep({seconds})\nprint({i!r}, {tag!r})\n", limits=Limits(timeout_s=30), id=f"{tag}{i}") for i in range(n)]


# ---------------------------------------------------------------------------- without a cluster
def test_addresses_and_no_cluster_is_a_one_line_error(tmp_path, monkeypatch):
    from xpl.cli import _ray_args

    for good in ("auto", "ray://head:10001", "10.0.0.5:6379", "[::1]:6379"):
        assert check_address(good) == good
    for bad in ("", "ray://head", "http://x:1", "head"):
        with pytest.raises(ValueError, match="expected auto, ray://HOST:PORT or HOST:PORT"):
            check_address(bad)
    # A bare --ray is --ray auto, wherever it is: the jobs file after it is not an address.
    assert _ray_args(["exec", "--ray", "jobs.jsonl"]) == ["exec", "--ray", "auto", "jobs.jsonl"]
    assert _ray_args(["serve", "--ray", "--port", "1"]) == ["serve", "--ray", "auto", "--port", "1"]
    assert _ray_args(["exec", "j", "--ray"]) == ["exec", "j", "--ray", "auto"]
    assert _ray_args(["exec", "--ray", "ray://h:10001", "j"]) == ["exec", "--ray", "ray://h:10001", "j"]
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(json.dumps({"language": "python", "program": "print(1)"}) + "\n")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    commands = {
        "127.0.0.1:1": ["exec", str(jobs), "--ray", "127.0.0.1:1"],
        "ray://127.0.0.1:1": ["exec", "--ray", "ray://127.0.0.1:1", str(jobs)],
        "127.0.0.1:2": ["serve", "--port", "0", "--ray", "127.0.0.1:2"],
    }
    procs = {a: subprocess.Popen([sys.executable, "-m", "xpl.cli", *c], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for a, c in commands.items()}
    for address, proc in procs.items():
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 2, stderr
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith(f"error: no Ray cluster at {address} ") and "ray start --head" in lines[0], stderr
    # `auto` with nothing running here (only checkable where no other Ray instance runs): at
    # once, also where a cluster stopped without `ray stop` left its address behind.
    if not ray.is_initialized() and not _gcs_running():
        monkeypatch.delenv("RAY_ADDRESS", raising=False)
        started = time.monotonic()
        with pytest.raises(ClusterUnavailable, match=r"^no Ray cluster is running on this machine \(--ray auto\).*ray start --head"):
            connect("auto")
        assert not ray.is_initialized() and time.monotonic() - started < 30


def _gcs_running() -> bool:
    import psutil

    return any("gcs_server" in (p.info["name"] or "") for p in psutil.process_iter(["name"]))


# ---------------------------------------------------------------------------- on the cluster
def test_results_are_those_of_the_local_engine_in_order(ray_engine, engine):
    jobs = _mixed_jobs()
    seen: list[int] = []
    started = time.perf_counter()
    remote = ray_engine.run(jobs, on_result=lambda i, r, f: seen.append(i))
    print(f"ray: {len(jobs)} jobs in {time.perf_counter() - started:.1f} s")
    local = engine.run(jobs)
    assert [r.id for r in remote] == [j.id for j in jobs]
    for job, a, b in zip(jobs, remote, local):
        assert not _same(a, b), (job.id, _same(a, b))
    assert sorted(seen) == list(range(len(jobs)))  # one on_result per job
    assert {r.status for r in remote} >= {Status.OK, Status.TEST_FAILURE, Status.COMPILE_ERROR, Status.RUNTIME_ERROR}
    # Each PL went only to nodes that run it; the shared PLs were spread over both nodes.
    by_node = {info.name: set(info.languages) for info in ray_engine.nodes}
    assert len(by_node) == 2 and sorted(map(len, by_node.values()))[0] == 3
    worker = next(name for name, pls in by_node.items() if pls == set(WORKER_PLS.split(",")))
    for job, node in zip(jobs, ray_engine.last_nodes):
        assert node is None or job.language in by_node[node], (job.id, node)
    assert any(node == worker for node in ray_engine.last_nodes)
    assert ray_engine.languages()["cpp" if get_language("cpp").toolchain.available else "ruby"] == [n for n, pls in by_node.items() if pls != set(WORKER_PLS.split(","))]


def test_killed_executor_mid_batch_loses_and_doubles_nothing(ray_engine, tmp_path):
    store = Store(tmp_path / "results.sqlite")
    ray_engine.store = store
    try:
        jobs = _sleepers(8, 2, "kill")
        victim = ray_engine.nodes[0]
        before = Counter(ray_engine.stats)
        calls: dict[int, int] = {}

        def on_result(i, result, fetched):
            calls[i] = calls.get(i, 0) + 1

        def kill_soon():
            while ray_engine.stats["chunks_sent"] - before["chunks_sent"] < 4:  # both nodes busy
                time.sleep(0.05)
            time.sleep(0.8)  # the first chunks are running (each takes over 2 s)
            os.kill(victim.pid, signal.SIGKILL)

        killer = threading.Thread(target=kill_soon)
        killer.start()
        results = ray_engine.run(jobs, on_result=on_result)
        killer.join()
        stats = Counter(ray_engine.stats) - before
        assert stats["executors_lost"] >= 1 and stats["chunks_retried"] >= 1, stats
        assert calls == {i: 1 for i in range(len(jobs))}
        assert [r.status for r in results] == [Status.OK] * len(jobs), [r.describe() for r in results]
        assert [r.stdout.split()[0] for r in results] == [str(i) for i in range(len(jobs))]
        assert len(store) == len(jobs)  # one row per job, none twice
        assert victim.node_id not in {i.node_id for i in ray_engine.nodes}
        # Resume: everything is in the store, nothing is sent; the next call restarts the
        # executor on the node that lost it.
        sent = ray_engine.stats["chunks_sent"]
        again = ray_engine.run(jobs)
        assert all(r.cached for r in again) and ray_engine.stats["chunks_sent"] == sent
        assert [_same(a, b) for a, b in zip(results, again)] == [{}] * len(jobs)
        assert len(ray_engine.nodes) == 2
    finally:
        ray_engine.store = None
        store.close()


def test_the_store_keeps_its_resume_semantics(ray_engine, tmp_path):
    path = tmp_path / "resume.sqlite"
    first = _sleepers(3, 0, "r")
    store = Store(path)
    ray_engine.store = store
    try:
        ray_engine.run(first)
        assert len(store) == 3
        sent = ray_engine.stats["chunks_sent"]
        more = first + _sleepers(5, 0, "s")[3:]  # 3 done, 2 new
        results = ray_engine.run(more)
        assert [r.cached for r in results] == [True] * 3 + [False] * 2
        assert ray_engine.stats["chunks_sent"] - sent >= 1 and ray_engine.last_nodes[:3] == [None] * 3
        assert all(node is not None for node in ray_engine.last_nodes[3:])
        assert len(store) == 5
    finally:
        ray_engine.store = None
        store.close()
    # The local engine reads the same store: same keys, nothing re-run.
    local = Engine(workers=1, store=path)
    try:
        assert all(r.cached for r in local.run(more))
    finally:
        local.close()


def test_program_io_and_no_node_for_a_pl(ray_engine):
    from xpl.execution.engine import ProgramIO
    from xpl.languages.base import ToolchainMissing

    job = Job("python", "data = open('in.txt').read()\nopen('out.txt', 'w').write(data.upper())\nprint(input())\n", id="io")
    got = {}
    [result] = ray_engine.run([job], io=[ProgramIO(stdin=b"hello\n", files=(("in.txt", b"abc"),), fetch=("out.txt",))], on_result=lambda i, r, f: got.update(f))
    assert result.ok and result.stdout.strip() == "hello" and got == {"out.txt": b"ABC"}
    julia = get_language("julia")
    if not julia.toolchain.available:
        with pytest.raises(ToolchainMissing, match="no node of the Ray cluster runs julia"):
            ray_engine.run([Job("julia", "println(1)")])


def test_xpl_exec_ray_writes_the_rows_of_a_local_run(cluster, ray_engine, tmp_path):
    from xpl.cli import app

    jobs = [j for j in _mixed_jobs() if j.language in ("python", "lua", "ruby")]
    path = tmp_path / "jobs.jsonl"
    path.write_text("".join(json.dumps({"id": j.id, "language": j.language, "program": j.program, "expected": j.expected.to_json() if j.expected else None}) + "\n" for j in jobs) + "not json\n")
    runner = CliRunner()
    local = runner.invoke(app, ["exec", str(path), "--out", str(tmp_path / "local.jsonl")])
    assert local.exit_code == 0, local.output
    remote = runner.invoke(app, ["exec", str(path), "--ray", cluster.address, "--out", str(tmp_path / "ray.jsonl")])
    assert remote.exit_code == 0, remote.output
    assert "Ray cluster" in remote.output
    other = RayEngine(cluster.address)  # as the CLI made its own: the process shares one executor per node
    try:
        assert {i.pid for i in other.nodes} == {i.pid for i in ray_engine.nodes}
    finally:
        other.close()
    assert len(ray_engine.run(jobs[:1])) == 1  # still there
    rows = [[_fixed(json.loads(line)) for line in (tmp_path / f"{name}.jsonl").read_text().splitlines()] for name in ("local", "ray")]
    assert rows[0] == rows[1] and rows[1][-1]["status"] == "invalid_input"


def test_grpo_reward_runs_on_the_cluster(cluster, engine):
    from tests.training.fixtures import tiny_problems
    from xpl.experiments.config import from_dict
    from xpl.training.common import ConfigError
    from xpl.training.grpo import ExecutionReward, GRPOConfig

    config = from_dict(GRPOConfig, {"execution": {"ray": cluster.address}}, "grpo")
    config.validate()
    assert GRPOConfig().execution.ray is None  # local by default
    with pytest.raises(ConfigError, match=r"grpo.execution.ray: expected auto"):
        from_dict(GRPOConfig, {"execution": {"ray": "somewhere"}}, "grpo").validate()
    train, _ = tiny_problems()
    problems = list(train[:4])
    completions = [p.solutions["python"] for p in problems] + ["    return None\n"] * len(problems)
    names = [p.name for p in problems] * 2
    remote_engine = make_engine(config.execution.ray, languages=["python"])
    try:
        remote = ExecutionReward(problems, "python", "fraction", 3.0, remote_engine).score(completions, names)
    finally:
        remote_engine.close()
    local = ExecutionReward(problems, "python", "fraction", 3.0, engine).score(completions, names)
    assert remote == local and remote[: len(problems)] == [1.0] * len(problems)


def _square(x: int) -> tuple[int, str]:
    return x * x, os.getcwd()


def test_run_tasks_runs_calls_on_the_cluster_in_the_drivers_folder(cluster, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = dict(run_tasks(_square, [(i,) for i in range(4)], cluster.address, num_cpus=1))
    assert out == {i: (i * i, str(tmp_path)) for i in range(4)}
    with pytest.raises(FileNotFoundError, match="does not exist there"):
        list(run_tasks(_square, [(1,)], cluster.address, requires=["no/such/file"]))
    with pytest.raises(ClusterUnavailable, match="largest node of the Ray cluster has 1"):
        list(run_tasks(_square, [(1,)], cluster.address, num_cpus=4))



def test_xpl_serve_on_the_cluster(cluster):
    import requests
    import uvicorn

    from tests.execution.test_service import _free_port
    from xpl.execution.service import ServeConfig, create_app

    port = _free_port()
    app = create_app(ServeConfig(port=port, workers=2, lanes=2, ray=cluster.address))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=5))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while not _healthy(url):
            assert thread.is_alive(), "the server stopped (see its log above)"
            assert time.monotonic() < deadline, "not healthy after 120 s"
            time.sleep(0.2)
        health = requests.get(url + "/health", timeout=10).json()
        assert len(health["ray"]["nodes"]) == 2 and health["isolated"] == Engine(workers=1).sandbox.isolated
        rows = {r["language"]: r for r in requests.get(url + "/languages", timeout=10).json()["languages"]}
        assert len(rows["python"]["nodes"]) == 2 and len(rows["ruby"]["nodes"]) == 1
        answer = requests.post(url + "/run_code", json={"code": "print(input()[::-1])", "language": "python", "stdin": "abc\n"}, timeout=120).json()
        assert answer["status"] == "Success" and answer["run_result"]["stdout"] == "cba\n"
        jobs = [{"language": lang, "program": program, "id": lang} for lang, program in (("ruby", "puts 6 * 7"), ("lua", "print(6 * 7)"), ("python", "print(6 * 7)"))]
        results = requests.post(url + "/run", json={"jobs": jobs}, timeout=120).json()["results"]
        assert [(r["id"], r["status"], r["stdout"]) for r in results] == [(j["id"], "ok", "42\n") for j in jobs]
        if not get_language("julia").toolchain.available:
            bad = requests.post(url + "/run_code", json={"code": "println(1)", "language": "julia"}, timeout=30)
            assert bad.status_code == 422 and "runs on no node of this server's Ray cluster" in bad.json()["detail"]
    finally:
        server.should_exit = True
        thread.join(timeout=60)


def _healthy(url: str) -> bool:
    import requests

    try:
        return requests.get(url + "/health", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


def test_scaling_sweep_runs_its_jobs_as_ray_tasks(cluster, tmp_path, monkeypatch):
    import yaml

    from tests.analysis.test_scaling import problems_dir, sweep_config
    from xpl.cli import app
    from xpl.experiments.config import to_dict

    monkeypatch.chdir(tmp_path)  # relative paths, as the tasks see them: from the driver's folder
    problems = problems_dir(str(tmp_path))
    cfg = to_dict(sweep_config(os.path.relpath(problems), monolingual=False, mixtures=[{"name": "solo", "proportions": {"python": 1.0}}]))
    Path("sweep.yaml").write_text(yaml.safe_dump(cfg))
    res = CliRunner().invoke(app, ["scaling", "sweep", "sweep.yaml", "--out", "sweep", "--ray", cluster.address, "--threads", "1"])
    assert res.exit_code == 0, res.output
    assert "1 jobs finished (1 trained now" in res.output
    rec = json.loads(Path("sweep/jobs/solo-a-d6000/sweep.json").read_text())
    assert set(rec["loss"]) == {"python"} and rec["D"] > 0
    res = CliRunner().invoke(app, ["scaling", "sweep", "sweep.yaml", "--out", "sweep", "--ray", "--threads", "1"])
    assert res.exit_code == 0 and "1 jobs finished (0 trained now, 1 already done)" in res.output, res.output
