"""``xpl serve`` against real clients: the official SandboxFusion client (``sandbox-fusion``),
the HTTP exchange verl's sandbox_fusion reward makes, the TRL reward, and raw HTTP for the
service's own guarantees (field errors, auth, bounded queue, deadline, disconnects)."""

from __future__ import annotations

import base64
import contextlib
import inspect
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests
import sandbox_fusion as sf
import uvicorn

from xpl.execution.client import SANDBOX_FUSION_LANGUAGES, RemoteReward, ServiceClient, ServiceError, remote_reward, same_output
from xpl.execution.service import ServeConfig, create_app
from xpl.languages import get_language

ROOT = Path(__file__).resolve().parents[2]

# One program per SandboxFusion language: read two integers from stdin, print their sum.
SUM_PROGRAMS = {
    "python": "a, b = map(int, input().split())\nprint(a + b)\n",
    "cpp": "#include <iostream>\nint main() { long a, b; std::cin >> a >> b; std::cout << a + b << std::endl; }\n",
    "nodejs": "const v = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(Number);\nconsole.log(v[0] + v[1]);\n",
    "rust": (
        "use std::io::Read;\nfn main() {\n    let mut s = String::new();\n    std::io::stdin().read_to_string(&mut s).unwrap();\n"
        "    let v: Vec<i64> = s.split_whitespace().map(|x| x.parse().unwrap()).collect();\n    println!(\"{}\", v[0] + v[1]);\n}\n"
    ),
    "go": "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tvar a, b int\n\tfmt.Scan(&a, &b)\n\tfmt.Println(a + b)\n}\n",
    "java": (
        "import java.util.*;\n\npublic class Main {\n    public static void main(String[] args) {\n        Scanner s = new Scanner(System.in);\n"
        "        long a = s.nextLong(), b = s.nextLong();\n        System.out.println(a + b);\n    }\n}\n"
    ),
    "php": "$v = explode(' ', trim(fgets(STDIN)));\necho intval($v[0]) + intval($v[1]), \"\\n\";\n",  # no <?php: added, as SandboxFusion does
    "csharp": (
        "using System;\n\nclass Program {\n    static void Main() {\n        var p = Console.ReadLine().Split(' ');\n"
        "        Console.WriteLine(long.Parse(p[0]) + long.Parse(p[1]));\n    }\n}\n"
    ),
    # xpl type-checks TypeScript without @types/node (as MultiPL-E): Node's require is declared.
    "typescript": "declare const require: any;\nconst v: number[] = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(Number);\nconsole.log(v[0] + v[1]);\n",
    "ruby": "a, b = gets.split.map(&:to_i)\nputs a + b\n",
    "lua": "local a, b = io.read('n', 'n')\nprint(a + b)\n",
    "julia": "a, b = parse.(Int, split(readline()))\nprintln(a + b)\n",
}


def _usable(sf_language: str) -> bool:
    return get_language(SANDBOX_FUSION_LANGUAGES[sf_language]).toolchain.available


def _need(*sf_languages: str) -> None:
    for name in sf_languages:
        if not _usable(name):
            pytest.skip(f"{name}: no toolchain here")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen | None = None, timeout_s: float = 90.0) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"xpl serve exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        try:
            if requests.get(url + "/health", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"xpl serve at {url} not healthy after {timeout_s} s")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """``xpl serve`` as users start it: the CLI, in a process of its own, on a free port."""
    port = _free_port()
    cmd = [sys.executable, "-m", "xpl.cli", "serve", "--port", str(port), "--workers", "2"]
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    env.pop("XPL_SERVE_TOKEN", None)
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def thread_server(**settings) -> Iterator[str]:
    """An ``xpl serve`` app in a thread of this process, with special settings."""
    port = _free_port()
    config = ServeConfig(port=port, **{"workers": 2, **settings})
    server = uvicorn.Server(uvicorn.Config(create_app(config), host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=5))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=60)


def _run(url: str, code: str, language: str, **fields) -> sf.RunCodeResponse:
    return sf.run_code(sf.RunCodeRequest(code=code, language=language, **fields), endpoint=url, max_attempts=1)


# ---------------------------------------------------------------------------- official client
@pytest.mark.parametrize("language", sorted(SUM_PROGRAMS))
def test_official_client_runs_each_language(server, language):
    _need(language)
    response = _run(server, SUM_PROGRAMS[language], language, stdin="2 40\n", compile_timeout=60)
    assert response.status == sf.RunStatus.Success, response
    assert response.run_result.status == sf.CommandRunStatus.Finished
    assert response.run_result.return_code == 0
    assert response.run_result.stdout == "42\n"
    assert response.run_result.stderr == ""
    compiled = get_language(SANDBOX_FUSION_LANGUAGES[language]).compiled
    assert (response.compile_result is not None) == compiled
    if compiled:
        assert response.compile_result.status == sf.CommandRunStatus.Finished and response.compile_result.return_code == 0
    assert sf.summary_run_code_result(response, sf.SummaryMapping()) == "Success"


@pytest.mark.parametrize("language,code,expected", [
    ("python", "import sys\nprint('out')\nprint('err', file=sys.stderr)\nsys.exit(3)\n", 3),
    ("cpp", "#include <cstdio>\nint main() { puts(\"out\"); fprintf(stderr, \"err\\n\"); return 7; }\n", 7),
    ("nodejs", "console.log('out'); console.error('err'); process.exit(5);\n", 5),
    ("rust", "fn main() { println!(\"out\"); eprintln!(\"err\"); std::process::exit(4); }\n", 4),
])
def test_official_client_sees_exit_status_and_both_streams(server, language, code, expected):
    _need(language)
    response = _run(server, code, language)
    assert response.status == sf.RunStatus.Failed
    assert response.run_result.status == sf.CommandRunStatus.Finished
    assert response.run_result.return_code == expected
    assert response.run_result.stdout == "out\n" and response.run_result.stderr == "err\n"
    assert sf.summary_run_code_result(response, sf.SummaryMapping(RunFailed="RunFailed")) == "RunFailed"


def test_official_client_python_exception_is_a_failed_run(server):
    response = _run(server, "raise ValueError('boom')\n", "python")
    assert response.status == sf.RunStatus.Failed
    assert response.run_result.return_code == 1
    assert "ValueError: boom" in response.run_result.stderr and "Traceback" in response.run_result.stderr


@pytest.mark.parametrize("language,code", [
    ("python", "while True:\n    pass\n"),
    ("cpp", "int main() { volatile long x = 0; for (;;) x++; }\n"),
    ("rust", "fn main() { let mut x: u64 = 0; loop { x = x.wrapping_add(1); std::hint::black_box(x); } }\n"),
    ("nodejs", "for (;;) {}\n"),
])
def test_official_client_time_limit(server, language, code):
    _need(language)
    start = time.monotonic()
    response = _run(server, code, language, run_timeout=1, compile_timeout=60)
    assert response.status == sf.RunStatus.Failed
    assert response.run_result.status == sf.CommandRunStatus.TimeLimitExceeded
    assert response.run_result.return_code is None  # as SandboxFusion: no exit status on a time-out
    assert 0.9 <= response.run_result.execution_time < 5
    assert time.monotonic() - start < 60
    assert sf.summary_run_code_result(response, sf.SummaryMapping(RunTimeout="TLE")) == "TLE"


@pytest.mark.parametrize("language,code,needle", [
    ("cpp", "int main() { return undefined_name; }\n", "undefined_name"),
    ("rust", "fn main() { let x: i32 = \"text\"; }\n", "mismatched types"),
    ("go", "package main\n\nfunc main() { undefinedCall() }\n", "undefined"),
])
def test_official_client_compile_error(server, language, code, needle):
    _need(language)
    response = _run(server, code, language, compile_timeout=60)
    assert response.status == sf.RunStatus.Failed
    assert response.run_result is None
    assert response.compile_result.status == sf.CommandRunStatus.Finished
    assert response.compile_result.return_code not in (None, 0)
    assert needle in response.compile_result.stderr
    assert sf.summary_run_code_result(response, sf.SummaryMapping(CompileFailed="CE")) == "CE"


def test_official_client_files_and_fetch_files(server):
    code = "data = open('input/numbers.txt').read().split()\nopen('result.txt', 'w').write(str(sum(map(int, data))))\nprint('done')\n"
    files = {"input/numbers.txt": base64.b64encode(b"1 2 3 4").decode()}
    response = _run(server, code, "python", files=files, fetch_files=["result.txt", "absent.txt"])
    assert response.status == sf.RunStatus.Success, response
    assert response.run_result.stdout == "done\n"
    assert {k: base64.b64decode(v) for k, v in response.files.items()} == {"result.txt": b"10"}


def test_official_client_memory_limit(server):
    # verl sends memory_limit_MB (SandboxFusion's server takes it; the 0.3.7 client model has
    # no such field), so it goes in as raw JSON here.
    hog = "x = bytearray(600 * 1024 * 1024)\nprint(len(x))\n"
    tight = requests.post(server + "/run_code", json={"code": hog, "language": "python", "memory_limit_MB": 256}, timeout=120).json()
    assert tight["status"] == "Failed"
    assert tight["run_result"]["return_code"] != 0
    assert "memory" in tight["message"]
    roomy = requests.post(server + "/run_code", json={"code": hog, "language": "python", "memory_limit_MB": 2048}, timeout=120).json()
    assert roomy["status"] == "Success", roomy
    default = requests.post(server + "/run_code", json={"code": "print(1)", "language": "python", "memory_limit_MB": -1}, timeout=120).json()
    assert default["status"] == "Success"


def test_official_client_concurrent_mixed_requests(server):
    langs = [lang for lang in ("python", "cpp", "nodejs", "rust", "go") if _usable(lang)]
    work = [(lang, i) for lang in langs for i in range(4)]
    out: dict[tuple[str, int], sf.RunCodeResponse] = {}

    def call(item):
        lang, i = item
        out[item] = _run(server, SUM_PROGRAMS[lang], lang, stdin=f"{i} 1000\n", compile_timeout=60)

    threads = [threading.Thread(target=call, args=(item,)) for item in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert len(out) == len(work)
    for (lang, i), response in out.items():
        assert response.status == sf.RunStatus.Success, (lang, response)
        assert response.run_result.stdout == f"{i + 1000}\n", (lang, i)


# ---------------------------------------------------------------------------- verl's exchange
def _verl_post(url: str, code: str, language: str, stdin, timeout: int = 10, memory_limit_mb: int = 1024) -> requests.Response:
    """The request verl's sandbox_fusion reward sends (verl/utils/reward_score/sandbox_fusion/
    utils.py, call_sandbox_api): its payload fields and headers, posted to the configured URL."""
    payload = json.dumps(
        {
            "compile_timeout": timeout,
            "run_timeout": timeout,
            "code": code,
            "stdin": stdin,
            "memory_limit_MB": memory_limit_mb,
            "language": language,
            "files": {},
            "fetch_files": [],
        }
    )
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    return requests.post(url, headers=headers, data=payload, timeout=timeout * 2 + 10)


def test_verl_exchange_accepted_answer(server):
    response = _verl_post(server + "/run_code", SUM_PROGRAMS["python"], "python", "3 4")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "Success"
    run = body["run_result"]
    assert run["status"] == "Finished" and run["return_code"] == 0 and isinstance(run["execution_time"], float)
    assert str(run["stdout"]).rstrip("\n") == "7"  # verl's comparison


def test_verl_exchange_each_outcome(server):
    _need("cpp")
    url = server + "/run_code"
    # verl's classes: compile error (-4), runtime error (-2), timeout (-3), wrong answer (False)
    compile_error = _verl_post(url, "int main() { return nope; }", "cpp", "").json()
    assert compile_error["status"] == "Failed" and compile_error["compile_result"]["status"] == "Finished"
    assert compile_error["compile_result"]["return_code"] != 0 and compile_error["run_result"] is None
    runtime_error = _verl_post(url, "#include <cstdlib>\nint main() { abort(); }", "cpp", "").json()
    assert runtime_error["status"] == "Failed" and runtime_error["run_result"]["status"] == "Finished"
    assert runtime_error["run_result"]["return_code"] == -6  # SIGABRT
    timeout = _verl_post(url, "int main() { for (;;); }", "cpp", None, timeout=1).json()
    assert timeout["status"] == "Failed" and timeout["run_result"]["status"] == "TimeLimitExceeded"
    wrong = _verl_post(url, SUM_PROGRAMS["cpp"], "cpp", "1 1").json()
    assert wrong["status"] == "Success" and wrong["run_result"]["stdout"].rstrip("\n") == "2"


def _verl_sandbox_fusion():
    """verl's own sandbox_fusion reward package (standard library + requests), loaded from a
    verl source tree or unpacked wheel named by XPL_VERL_SRC: verl itself cannot be installed
    beside xpl (it pins transformers < 5.11 and pulls ray, tensordict, torchdata, wandb)."""
    import importlib.util

    src = os.environ.get("XPL_VERL_SRC")
    if not src:
        pytest.skip("XPL_VERL_SRC not set (a verl checkout or unpacked wheel: pip download verl --no-deps, unzip)")
    package = Path(src) / "verl" / "utils" / "reward_score" / "sandbox_fusion"
    spec = importlib.util.spec_from_file_location("verl_sandbox_fusion", package / "__init__.py", submodule_search_locations=[str(package)])
    assert spec is not None and spec.loader is not None, f"no verl sandbox_fusion package under {src}"
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_verls_own_reward_code_against_xpl_serve(server):
    verl = _verl_sandbox_fusion()
    url = server + "/run_code"  # reward_model.sandbox_fusion.url
    cases = {"inputs": ["1 2\n", "40 2\n"], "outputs": ["3\n", "42\n"]}
    score, meta = verl.compute_score(url, None, 1024, "```python\n" + SUM_PROGRAMS["python"] + "```", cases)
    assert score == 1.0, meta
    score, meta = verl.compute_score(url, None, 1024, "```python\nprint(3)\n```", json.dumps(cases))
    assert score == 0.5, meta
    # Its function-call wrapper (LeetCode-style rows with fn_name): arguments as JSON lines on stdin.
    calls = {"fn_name": "add", "inputs": ["1\n2", "40\n2"], "outputs": ["3", "42"]}
    results, meta = verl.check_correctness(url, calls, "def add(a, b):\n    return a + b\n")
    assert results == [True, True], meta
    if _usable("cpp"):
        results, meta = verl.check_correctness(url, cases, SUM_PROGRAMS["cpp"], language="cpp")
        assert results == [True, True], meta
        results, _ = verl.check_correctness(url, cases, "int main() { return nope; }", language="cpp")
        assert results == [-4, -4]  # compile error
    results, _ = verl.check_correctness(url, {"inputs": [""], "outputs": [""]}, "raise SystemExit(2)")
    assert results == [-2]  # runtime error
    results, _ = verl.check_correctness(url, {"inputs": [""], "outputs": [""]}, "while True:\n    pass\n", timeout=1)
    assert results == [-3]  # time limit


def test_verl_retries_a_deadline_504():
    # verl retries on 504 only: a request past the server's deadline must get exactly that.
    with thread_server(deadline_s=2.0) as url:
        start = time.monotonic()
        response = _verl_post(url + "/run_code", "import time\ntime.sleep(4)\n", "python", None, timeout=5)
        assert response.status_code == 504
        assert response.json()["detail"].startswith("deadline: no result within 2 s")
        assert time.monotonic() - start < 4


# ---------------------------------------------------------------------------- TRL reward
def test_trl_reward_scores_completions(server):
    from trl.trainer.utils import get_callable_name

    reward = remote_reward(server, language="python")
    assert get_callable_name(reward) == "xpl_remote"  # what GRPOTrainer logs it as
    assert not inspect.iscoroutinefunction(reward.__call__)  # GRPOTrainer calls it synchronously
    completions = [
        "Here it is:\n```python\na, b = map(int, input().split())\nprint(a + b)\n```\n",
        "```python\nprint(42)\n```",
        "print(int(input().split()[0]))",
        "```python\nthis is not python\n```",
    ]
    cases = {"inputs": ["1 2\n", "40 2\n"], "outputs": ["3\n", "42"]}
    # As GRPOTrainer calls a reward function: keywords, dataset columns, extra keys.
    scores = reward(
        prompts=["p"] * 4,
        completions=completions,
        completion_ids=[[1]] * 4,
        test_cases=[cases, json.dumps(cases), cases, cases],
        trainer_state=None,
    )
    assert scores == [1.0, 0.5, 0.0, 0.0]
    strict = RemoteReward(server, partial=False)
    assert strict(prompts=["p"] * 2, completions=completions[:2], test_cases=[cases, cases]) == [1.0, 0.0]
    assert reward.calls == 1 and reward.seconds > 0


def test_trl_reward_conversations_and_per_row_language(server):
    _need("cpp")
    reward = remote_reward(server)
    completions = [
        [{"role": "assistant", "content": "```cpp\n" + SUM_PROGRAMS["cpp"] + "```"}],
        [{"role": "assistant", "content": "```python\n" + SUM_PROGRAMS["python"] + "```"}],
    ]
    cases = [{"input": "5 6\n", "output": "11\n"}]
    scores = reward(prompts=[[], []], completions=completions, test_cases=[cases, cases], language=["cpp", "python"])
    assert scores == [1.0, 1.0]


def test_trl_reward_refuses_bad_rows_and_outages(server):
    reward = remote_reward(server)
    with pytest.raises(KeyError, match="test_cases"):
        reward(prompts=["p"], completions=["print(1)"])
    with pytest.raises(ValueError, match="row 0: 1 inputs but 2 outputs"):
        reward(prompts=["p"], completions=["print(1)"], test_cases=[{"inputs": ["1"], "outputs": ["1", "2"]}])
    with pytest.raises(ServiceError, match="HTTP 422: language"):
        reward(prompts=["p"], completions=["x"], test_cases=[[{"input": "", "output": ""}]], language=["cobol"])
    down = remote_reward(f"http://127.0.0.1:{_free_port()}", retries=0)
    with pytest.raises(ServiceError, match="no answer after 1 tries"):
        down(prompts=["p"], completions=["print(1)"], test_cases=[[{"input": "", "output": "1"}]])


def test_readme_openrlhf_reward_file_works(server):
    """The README's OpenRLHF reward file, run as OpenRLHF calls it (queries = prompt +
    response, labels = the --label_key column) against a live server."""
    torch = pytest.importorskip("torch")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("```python\n# xpl_reward.py\n") + len("```python\n")
    source = readme[start : readme.index("```", start)]
    assert "http://127.0.0.1:8080" in source
    namespace: dict = {}
    exec(compile(source.replace("http://127.0.0.1:8080", server), "xpl_reward.py", "exec"), namespace)
    prompts = ["Add two numbers.\n", "Add two numbers.\n"]
    responses = ["```python\n" + SUM_PROGRAMS["python"] + "```", "```python\nprint(0)\n```"]
    labels = [json.dumps({"inputs": ["1 2"], "outputs": ["3"]})] * 2
    out = namespace["reward_func"]([p + r for p, r in zip(prompts, responses)], prompts, labels)
    assert torch.equal(out["rewards"], torch.tensor([1.0, 0.0])) and torch.equal(out["scores"], out["rewards"])


def test_same_output_ignores_trailing_whitespace_only():
    assert same_output("1 2 \n3\n\n", "1 2\n3")
    assert same_output("a\r\nb\r\n", "a\nb\n")
    assert not same_output("1\n2\n", "1 2\n")
    assert not same_output(" 1\n", "1\n")


# ---------------------------------------------------------------------------- /run (xpl jobs)
def test_run_endpoint_takes_xpl_jobs(server):
    from xpl.languages.demo import DEMO_DOC, DEMO_SIG, DEMO_TESTS, demo_bodies

    lang = get_language("python")
    jobs = []
    for kind, body in demo_bodies("python").items():
        program = lang.program(DEMO_SIG, DEMO_DOC, body, DEMO_TESTS)
        expected = lang.expected_results(DEMO_SIG, DEMO_TESTS)
        jobs.append({"id": kind, "language": "py", "program": program, "expected": expected.to_json(), "limits": {"timeout_s": 10}})
    response = requests.post(server + "/run", json=jobs, timeout=120)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert {r["id"]: r["status"] for r in results} == {"correct": "ok", "wrong": "test_failure", "broken": "compile_error"}
    assert all(r["verified"] for r in results)
    # The client takes Job objects too, and {"jobs": [...]}.
    from xpl.execution import Job

    [again] = ServiceClient(server).run([Job("python", "print('hi')\n", id="j")])
    assert again["status"] == "ok" and again["stdout"] == "hi\n" and again["id"] == "j"


# ---------------------------------------------------------------------------- malformed requests
TEN_MIB = 10 * 1024 * 1024


@pytest.mark.parametrize("path,body,status,field,words", [
    ("/run_code", b"{not json", 400, "body", "not JSON"),
    ("/run_code", b"\xff\xfe", 400, "body", "not UTF-8"),
    ("/run_code", [1, 2], 422, "body", "must be a JSON object"),
    ("/run_code", {"language": "python"}, 422, "code", "is missing"),
    ("/run_code", {"code": "x"}, 422, "language", "is missing"),
    ("/run_code", {"code": "x", "language": "cobol"}, 422, "language", '"cobol" is not a language'),
    ("/run_code", {"code": "x", "language": "python", "run_timeout": -1}, 422, "run_timeout", "positive"),
    ("/run_code", {"code": "x", "language": "python", "run_timeout": 0}, 422, "run_timeout", "positive"),
    ("/run_code", {"code": "x", "language": "python", "compile_timeout": "10"}, 422, "compile_timeout", "must be a number"),
    ("/run_code", {"code": "x", "language": "python", "run_timeout": 1e9}, 422, "run_timeout", "at most"),
    ("/run_code", {"code": 5, "language": "python"}, 422, "code", "must be a string"),
    ("/run_code", {"code": "x", "language": "python", "stdin": 3}, 422, "stdin", "must be a string"),
    ("/run_code", {"code": "x", "language": "python", "files": {"a.txt": "!!"}}, 422, 'files["a.txt"]', "base64"),
    ("/run_code", {"code": "x", "language": "python", "files": {"../a": "YQ=="}}, 422, 'files["../a"]', "relative path"),
    ("/run_code", {"code": "x", "language": "python", "files": []}, 422, "files", "must be an object"),
    ("/run_code", {"code": "x", "language": "python", "fetch_files": ["/etc/passwd"]}, 422, "fetch_files[0]", "relative path"),
    ("/run_code", {"code": "x", "language": "python", "memory_limit_MB": 1.5}, 422, "memory_limit_MB", "integer"),
    ("/run_code", {"code": "x", "language": "python", "args": ["-x"]}, 422, "args", "pytest"),
    ("/run_code", {"code": "x" * (TEN_MIB + 1), "language": "python"}, 413, "code", "at most 10485760"),
    ("/run", {"jobs": []}, 422, "jobs", "is empty"),
    ("/run", {"program": "x"}, 422, "body", "must be an array"),
    ("/run", [{"language": "python"}], 422, "jobs[0].program", "is missing"),
    ("/run", [{"language": "python", "program": "x", "limits": {"timeout_s": -1}}], 422, "jobs[0].limits.timeout_s", "positive"),
    ("/run", [{"language": "python", "program": "x"}, {"language": "klingon", "program": "x"}], 422, "jobs[1].language", "klingon"),
])
def test_malformed_requests_get_4xx_naming_the_field(server, path, body, status, field, words):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = requests.post(server + path, data=data, headers={"Content-Type": "application/json"}, timeout=60)
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["field"] == field
    assert answer["detail"].startswith(field) and words in answer["detail"]
    assert "\n" not in answer["detail"]


def test_language_without_toolchain_is_named(server):
    missing = [name for name in SANDBOX_FUSION_LANGUAGES if not _usable(name)]
    if not missing:
        pytest.skip("every toolchain is installed here")
    response = requests.post(server + "/run_code", json={"code": "x", "language": missing[0]}, timeout=30)
    assert response.status_code == 422
    assert response.json()["detail"].startswith(f'language: "{missing[0]}" has no toolchain on this server')


def test_body_size_limit():
    with thread_server(max_code_bytes=1000, max_body_bytes=2000) as url:
        big = requests.post(url + "/run_code", json={"code": "x" * 5000, "language": "python"}, timeout=30)
        assert big.status_code == 413 and big.json()["field"] == "body"
        code = requests.post(url + "/run_code", json={"code": "#" * 1500, "language": "python"}, timeout=30)
        assert code.status_code == 413 and code.json()["detail"].startswith("code: is 1500 bytes; at most 1000")


@pytest.mark.parametrize("args,message", [
    (["--port", "99999"], "error: --port must be from 0 to 65535"),
    (["--token", "short"], "error: --token must be at least 8 characters, without '/'"),
    (["--lanes", "0"], "error: --lanes must be from 1 to 16"),
    (["--sandbox", "docker"], "error: --sandbox must be auto, bwrap or none, got 'docker'"),
])
def test_cli_rejects_bad_settings_in_one_line(args, message):
    from typer.testing import CliRunner

    from xpl.cli import app

    result = CliRunner().invoke(app, ["serve", *args])
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1


def test_health_and_languages(server):
    health = requests.get(server + "/health", timeout=10).json()
    assert health["status"] == "ok" and health["lanes"] == 2 and health["workers"] == 2
    table = {row["language"]: row for row in requests.get(server + "/languages", timeout=10).json()["languages"]}
    assert table["javascript"]["sandbox_fusion"] == ["nodejs"]
    assert set(table) == {get_language(name).name for name in SANDBOX_FUSION_LANGUAGES.values()}


# ---------------------------------------------------------------------------- auth, queue, deadline
def test_token_required_everywhere_but_health():
    token = "s3cret-token"
    with thread_server(token=token) as url:
        body = {"code": "print(1)", "language": "python"}
        assert requests.get(url + "/health", timeout=10).status_code == 200
        bare = requests.post(url + "/run_code", json=body, timeout=30)
        assert bare.status_code == 401 and bare.headers["WWW-Authenticate"] == "Bearer"
        assert bare.json()["detail"].startswith("unauthorized")
        wrong = requests.post(url + "/run_code", json=body, headers={"Authorization": "Bearer nope-nope"}, timeout=30)
        assert wrong.status_code == 401
        assert requests.get(url + "/languages", timeout=10).status_code == 401
        good = requests.post(url + "/run_code", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        assert good.status_code == 200 and good.json()["run_result"]["stdout"] == "1\n"
        # Clients that take only a URL (the SandboxFusion client, verl) put the token in the path.
        assert _run(f"{url}/t/{token}", "print(2)", "python").run_result.stdout == "2\n"
        assert requests.post(f"{url}/t/wrong-token/run_code", json=body, timeout=30).status_code == 401
        assert ServiceClient(url, token=token).run_code("print(3)", "python")["run_result"]["stdout"] == "3\n"


def _health(url: str) -> dict:
    return requests.get(url + "/health", timeout=10).json()


def _until(predicate, timeout_s: float = 30.0) -> None:
    end = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def test_full_queue_answers_503_with_retry_after():
    with thread_server(lanes=1, max_pending=3, batch_ms=0) as url:
        sleeper = {"code": "import time\ntime.sleep(1.5)\nprint('ok')\n", "language": "python", "run_timeout": 10}
        answers: list[requests.Response] = []
        threads = [threading.Thread(target=lambda: answers.append(requests.post(url + "/run_code", json=sleeper, timeout=120))) for _ in range(3)]
        for t in threads:
            t.start()
        _until(lambda: _health(url)["pending_jobs"] == 3)
        start = time.monotonic()
        busy = requests.post(url + "/run_code", json=sleeper, timeout=30)
        assert time.monotonic() - start < 2  # answered at once, not queued
        assert busy.status_code == 503
        assert busy.json()["detail"].startswith("busy: 3 jobs pending")
        assert 1 <= int(busy.headers["Retry-After"]) <= 60
        for t in threads:
            t.join(timeout=120)
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert _health(url)["stats"]["rejected_busy"] == 1
        # Room again once they are done: the official client's retry loop gets through.
        assert _run(url, "print('again')", "python").run_result.stdout == "again\n"


def test_a_delivered_job_stops_counting_as_pending_before_its_engine_returns():
    """The engine streams each result as it lands and then cleans up; a client that got its
    answer and sends the next request at once must not be told the server is full (this
    raced in CI: three answers back, the fourth request refused as busy)."""
    import asyncio

    from xpl.execution.job import Job, Result, Status
    from xpl.execution.service import Batcher

    release = threading.Event()

    class StreamsThenCleansUp:
        def run(self, jobs, io=None, on_result=None):
            results = [Result(Status.OK, job.language) for job in jobs]
            for k, result in enumerate(results):
                on_result(k, result, {})
            release.wait(10)  # still tearing down its sandboxes
            return results

    async def scenario() -> None:
        batcher = Batcher([StreamsThenCleansUp()], ServeConfig(max_pending=3, batch_ms=0))
        batcher.start()
        ticket = batcher.submit([Job("python", "x")] * 3, [None] * 3)
        results, _ = await asyncio.wait_for(ticket.future, 10)
        assert [r.status for r in results] == [Status.OK] * 3
        assert batcher.pending_jobs == 0  # answered: not pending, though the engine still runs
        again = batcher.submit([Job("python", "y")] * 3, [None] * 3)  # room again at once
        release.set()
        await asyncio.wait_for(again.future, 10)
        await asyncio.wait_for(asyncio.gather(*batcher._running), 10)
        assert batcher.pending_jobs == 0 and batcher.stats["jobs_run"] == 6
        await batcher.close()

    asyncio.run(scenario())


def test_client_disconnect_drops_its_queued_job():
    with thread_server(lanes=1, max_pending=8, batch_ms=0) as url:
        first: list[requests.Response] = []
        blocker = threading.Thread(target=lambda: first.append(requests.post(url + "/run_code", json={"code": "import time\ntime.sleep(2)\n", "language": "python"}, timeout=60)))
        blocker.start()
        _until(lambda: _health(url)["pending_jobs"] == 1 and _health(url)["queued_jobs"] == 0)  # it holds the only lane
        body = json.dumps({"code": "print('never')", "language": "python"}).encode()
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"POST /run_code HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            _until(lambda: _health(url)["queued_jobs"] == 1)
        _until(lambda: _health(url)["stats"].get("disconnects") == 1)
        health = _health(url)
        assert health["queued_jobs"] == 0 and health["stats"]["jobs_dropped"] == 1
        blocker.join(timeout=60)
        assert first[0].status_code == 200
        _until(lambda: _health(url)["stats"].get("batches") == 1)  # the blocker's batch has ended
        assert _health(url)["stats"]["jobs_run"] == 1  # the dropped job never ran
        assert _run(url, "print('still serving')", "python").run_result.stdout == "still serving\n"


def test_concurrent_requests_share_a_batch():
    _need("rust")
    with thread_server(lanes=1, batch_ms=300) as url:
        out: dict[int, sf.RunCodeResponse] = {}

        def call(i: int) -> None:
            out[i] = _run(url, f"fn main() {{ println!(\"{i}\"); }}\n", "rust", compile_timeout=60)

        threads = [threading.Thread(target=call, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert {i: r.run_result.stdout for i, r in out.items()} == {i: f"{i}\n" for i in range(6)}
        _until(lambda: _health(url)["stats"].get("jobs_run") == 6)  # answers stream before their batch ends
        stats = _health(url)["stats"]
        assert stats["jobs_run"] == 6 and stats["batches"] == 1  # six requests, one compiler call's batch


def test_batches_group_each_compiled_language():
    """A free lane takes the oldest request and every queued request whose compiled PLs are
    among its own (interpreted-only requests always fit): one compiler call per PL and batch,
    FIFO across PLs, the batch size cap kept."""
    import asyncio

    from xpl.execution.job import Job
    from xpl.execution.service import Batcher

    async def scenario() -> list[list[list[str]]]:
        batcher = Batcher([None], ServeConfig(max_batch=4))  # (a lane that never runs: batches are only taken)
        order = [["rust"], ["python"], ["go"], ["rust"], ["cpp"], ["javascript"], ["rust", "go"], ["rust"], ["rust"], ["rust"]]
        for langs in order:
            batcher.submit([Job(lang, "x") for lang in langs], [None] * len(langs))
        taken = []
        while batcher._queue:
            batch, size = batcher._take_batch()
            assert size == sum(len(t.jobs) for t in batch) <= 4 or len(batch) == 1
            taken.append([[job.language for job in t.jobs] for t in batch])
        assert batcher.queued_jobs == 0
        return taken

    assert asyncio.run(scenario()) == [
        [["rust"], ["python"], ["rust"], ["javascript"]],  # the cap (4 jobs) stops it
        [["go"]],  # the mixed request needs Rust too: not Go's batch
        [["cpp"]],
        [["rust", "go"], ["rust"], ["rust"]],  # a mixed request takes what fits in its PLs
        [["rust"]],
    ]
