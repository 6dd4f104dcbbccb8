"""Talking to ``xpl serve`` from Python (standard library only), and a TRL reward that does.

``ServiceClient(url)`` posts to ``/run_code`` (SandboxFusion's request and response) and to
``/run`` (xpl jobs), retrying where the server says to (503 with ``Retry-After``, 504) and on
refused connections, and raising ``ServiceError`` with the server's one-line reason otherwise.

``remote_reward(url, ...)`` is a ``reward_funcs`` entry for TRL's ``GRPOTrainer`` (or any
trainer that calls ``reward(prompts, completions, **columns) -> list[float]``): it runs the
code of each completion against the stdin/stdout test cases of its dataset row on the
service and scores it by the share of cases whose output matches.
"""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, is_dataclass
from typing import Any, Sequence

# SandboxFusion's language names (RunCodeRequest.language) that xpl runs -> xpl's PL names.
SANDBOX_FUSION_LANGUAGES: dict[str, str] = {
    "python": "python",
    "cpp": "cpp",
    "nodejs": "javascript",
    "go": "go",
    "java": "java",
    "php": "php",
    "csharp": "csharp",
    "typescript": "typescript",
    "rust": "rust",
    "lua": "lua",
    "ruby": "ruby",
    "julia": "julia",
}


class ServiceError(RuntimeError):
    """The service answered with an error (``status``: the HTTP status, 0 when it could not
    be reached) or not at all."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class ServiceClient:
    """A client of one ``xpl serve``. ``url``: its base URL (``http://127.0.0.1:8080``; a
    trailing ``/run_code``, as verl's setting has it, is dropped). Thread-safe."""

    def __init__(self, url: str, token: str | None = None, timeout_s: float = 600.0, retries: int = 6):
        base = url.rstrip("/")
        for suffix in ("/run_code", "/run"):
            if base.endswith(suffix):
                base = base[: -len(suffix)]
        self.url = base
        self.token = token
        self.timeout_s = timeout_s
        self.retries = retries

    # ----------------------------------------------------------------- endpoints
    def run_code(
        self,
        code: str,
        language: str,
        *,
        stdin: str | None = None,
        compile_timeout: float = 10.0,
        run_timeout: float = 10.0,
        memory_limit_mb: int | None = None,
        files: dict[str, str] | None = None,
        fetch_files: Sequence[str] = (),
    ) -> dict[str, Any]:
        """SandboxFusion's RunCodeResponse (a dict) for one whole program. ``files``: path ->
        base64 content."""
        payload: dict[str, Any] = {
            "code": code,
            "language": language,
            "compile_timeout": compile_timeout,
            "run_timeout": run_timeout,
            "stdin": stdin,
            "files": files or {},
            "fetch_files": list(fetch_files),
        }
        if memory_limit_mb is not None:
            payload["memory_limit_MB"] = memory_limit_mb
        return self._request("POST", "/run_code", payload)

    def run(self, jobs: Sequence[Any]) -> list[dict[str, Any]]:
        """The results (``Result.to_dict()``) of xpl jobs: ``Job`` objects or their JSON dicts."""
        records = [_job_record(j) for j in jobs]
        return self._request("POST", "/run", {"jobs": records})["results"]

    def health(self) -> dict[str, Any]:
        return self._request("GET", "/health", None)

    def languages(self) -> list[dict[str, Any]]:
        return self._request("GET", "/languages", None)["languages"]

    # ----------------------------------------------------------------- plumbing
    def _request(self, method: str, path: str, payload: Any) -> Any:
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        delay = 0.5
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    return json.loads(response.read())
            except urllib.error.HTTPError as exc:
                detail = _detail(exc)
                if exc.code in (503, 504) and not last:
                    retry_after = exc.headers.get("Retry-After", "")
                    wait = float(retry_after) if retry_after.isdigit() else delay
                    time.sleep(min(wait, 30.0) * (0.5 + random.random()))
                    delay = min(delay * 2, 30.0)
                    continue
                raise ServiceError(exc.code, f"{method} {self.url}{path}: HTTP {exc.code}: {detail}") from None
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                if last:
                    reason = getattr(exc, "reason", exc)
                    raise ServiceError(0, f"{method} {self.url}{path}: no answer after {self.retries + 1} tries: {reason}") from None
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 30.0)
        raise AssertionError("unreachable")


def _detail(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read())
        return str(body.get("detail", body)) if isinstance(body, dict) else str(body)
    except (ValueError, OSError):
        return exc.reason if isinstance(exc.reason, str) else str(exc)


def _job_record(job: Any) -> dict[str, Any]:
    if isinstance(job, dict):
        return job
    if is_dataclass(job):  # xpl.execution.Job
        record = asdict(job)
        if job.expected is not None:
            record["expected"] = job.expected.to_json()
        return {k: v for k, v in record.items() if v is not None}
    raise TypeError(f"a job must be an xpl Job or its JSON object, got {type(job).__name__}")


# ---------------------------------------------------------------------------- the reward
def same_output(actual: str, expected: str) -> bool:
    """Whether a program's stdout answers a test case: equal line by line once trailing
    whitespace of each line and trailing blank lines are ignored."""

    def lines(text: str) -> list[str]:
        out = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
        while out and not out[-1]:
            out.pop()
        return out

    return lines(actual) == lines(expected)


def _cases(value: Any, row: int) -> list[tuple[str, str]]:
    """(stdin, expected stdout) pairs from a dataset cell: ``{"inputs": [...], "outputs":
    [...]}`` (verl's and APPS's form, or its JSON text) or ``[{"input": ..., "output": ...}]``."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError(f"row {row}: test cases are not JSON: {value[:80]!r}") from None
    if isinstance(value, dict) and isinstance(value.get("inputs"), list) and isinstance(value.get("outputs"), list):
        if len(value["inputs"]) != len(value["outputs"]):
            raise ValueError(f"row {row}: {len(value['inputs'])} inputs but {len(value['outputs'])} outputs")
        pairs = list(zip(value["inputs"], value["outputs"]))
    elif isinstance(value, list) and all(isinstance(c, dict) and "input" in c and "output" in c for c in value):
        pairs = [(c["input"], c["output"]) for c in value]
    else:
        raise ValueError(f'row {row}: test cases must be {{"inputs": [...], "outputs": [...]}} or [{{"input", "output"}}, ...], got {str(value)[:80]!r}')
    if not pairs:
        raise ValueError(f"row {row}: no test cases")
    return [(str(i), str(o)) for i, o in pairs]


def _completion_text(completion: Any) -> str:
    """A TRL completion: plain text, or a conversation (its last message's content)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        return str(completion[-1].get("content", ""))
    raise TypeError(f"a completion must be text or a list of messages, got {type(completion).__name__}")


class RemoteReward:
    """A TRL ``reward_funcs`` entry: each completion's code (its fenced block in the PL, or
    the whole text) is run on ``xpl serve`` once per test case of its row (the
    ``tests_column`` of the dataset, passed by the trainer as a keyword argument), with the
    case's input on stdin; the reward is the share of cases whose stdout matches
    (``same_output``), or 1/0 for all/any with ``partial=False``. A ``language_column`` in
    the dataset picks each row's PL (SandboxFusion's or xpl's names); else ``language``.

    Failures of the program score 0; failures of the service (unreachable after retries, a
    rejected request) raise ``ServiceError``: an outage must not pass for bad programs.
    """

    def __init__(
        self,
        url: str,
        *,
        language: str = "python",
        tests_column: str = "test_cases",
        language_column: str = "language",
        partial: bool = True,
        run_timeout: float = 10.0,
        compile_timeout: float = 10.0,
        memory_limit_mb: int | None = None,
        token: str | None = None,
        concurrency: int = 32,
        retries: int = 6,
        name: str = "xpl_remote",
    ):
        self.client = ServiceClient(url, token=token, retries=retries)
        self.language = language
        self.tests_column = tests_column
        self.language_column = language_column
        self.partial = partial
        self.run_timeout = run_timeout
        self.compile_timeout = compile_timeout
        self.memory_limit_mb = memory_limit_mb
        self.concurrency = max(1, concurrency)
        self.__name__ = name  # TRL logs each reward under its function's name
        self.seconds = 0.0
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, prompts: Sequence[Any] | None = None, completions: Sequence[Any] | None = None, **kwargs: Any) -> list[float]:
        if completions is None:
            raise TypeError("RemoteReward needs completions=")
        if self.tests_column not in kwargs:
            raise KeyError(f"the dataset has no column {self.tests_column!r} with test cases (columns passed: {', '.join(sorted(kwargs)) or 'none'})")
        start = time.perf_counter()
        tests = kwargs[self.tests_column]
        langs = kwargs.get(self.language_column) or [self.language] * len(completions)
        work = []  # (row, code, language, stdin, expected)
        for row, completion in enumerate(completions):
            language = langs[row] or self.language
            code = self.code_of(_completion_text(completion), language)
            for stdin, expected in _cases(tests[row], row):
                work.append((row, code, language, stdin, expected))
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(work))) as pool:
            passed = list(pool.map(lambda w: self._passes(*w[1:]), work))
        per_row: list[list[bool]] = [[] for _ in completions]
        for (row, *_), ok in zip(work, passed):
            per_row[row].append(ok)
        with self._lock:
            self.seconds += time.perf_counter() - start
            self.calls += 1
        if self.partial:
            return [sum(r) / len(r) for r in per_row]
        return [1.0 if all(r) else 0.0 for r in per_row]

    def code_of(self, text: str, language: str) -> str:
        """The code to run from a completion: its block fenced with the PL's name, else its
        first block, else the whole text (see ``xpl.languages.chat.extract_code``)."""
        from xpl.languages import get_language
        from xpl.languages.chat import extract_code

        tags: tuple[str, ...] = (language,)
        try:
            tags += get_language(SANDBOX_FUSION_LANGUAGES.get(language, language)).fence_tags
        except ValueError:
            pass  # the service will name the unknown language
        return extract_code(text, tags)

    def _passes(self, code: str, language: str, stdin: str, expected: str) -> bool:
        response = self.client.run_code(
            code,
            language,
            stdin=stdin,
            compile_timeout=self.compile_timeout,
            run_timeout=self.run_timeout,
            memory_limit_mb=self.memory_limit_mb,
        )
        if response.get("status") == "SandboxError":
            raise ServiceError(200, f"{self.client.url}/run_code: sandbox error: {response.get('message', '')}")
        run = response.get("run_result") or {}
        return response.get("status") == "Success" and same_output(run.get("stdout") or "", expected)


def remote_reward(url: str, **options: Any) -> RemoteReward:
    """``RemoteReward(url, **options)``: a TRL reward function backed by ``xpl serve``."""
    return RemoteReward(url, **options)
