"""The ``xpl`` command line."""

from __future__ import annotations

import inspect
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text
from typer.core import TyperCommand

app = typer.Typer(add_completion=False, no_args_is_help=True, help="xpl: cross-programming-language transfer for code LLMs.")
console = Console()
err = Console(stderr=True, soft_wrap=True)  # one error = one line, whatever the width


def _fail(message: str, code: int = 2) -> None:
    err.print(_labelled("error:", "bold red", message))
    raise typer.Exit(code)


def _labelled(label: str, style: str, message: str) -> Text:
    """A styled label, then ``message`` printed exactly as it is: it may quote a user's file,
    so no rich markup ("[/]") or emoji code (":smile:") in it is interpreted, and lone
    surrogates (which no terminal encoding takes) are shown as backslash escapes."""
    return Text.assemble((label, style), " ", message.encode("utf-8", errors="backslashreplace").decode("utf-8"))


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )


@app.command()
def langs(
    install: bool = typer.Option(False, "--install", help="apt-get install the toolchains that are missing (needs root)."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON instead of a table."),
    refresh: bool = typer.Option(False, "--refresh", help="Probe every toolchain again instead of reusing the cached probe."),
) -> None:
    """List every supported PL: toolchain path, version, whether it is usable here. Probes
    are cached (``$XPL_CACHE/toolchains.json``) while the executables they found are unchanged."""
    from xpl.execution import sandbox as sbx
    from xpl.languages import all_languages
    from xpl.languages.base import clear_toolchain_cache

    if install or refresh:
        clear_toolchain_cache()
    if install:
        _install_toolchains()
    rows = []
    for lang in all_languages():
        tc = lang.toolchain
        rows.append(
            {
                "language": lang.name,
                "aliases": list(lang.aliases),
                "usable": tc.available,
                "version": tc.version,
                "paths": tc.paths,
                "batch": lang.batch_size if lang.compiled else None,
                "problem": tc.problem,
            }
        )
    info = sbx.detect()
    if as_json:
        print(json.dumps({"languages": rows, "sandbox": info.detail}, indent=2))
        return
    table = Table(title="xpl languages")
    for col in ("PL", "aliases", "usable", "version", "toolchain", "batch"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["language"],
            "/".join(r["aliases"]),
            "[green]yes[/]" if r["usable"] else "[red]no[/]",
            r["version"] or "",
            "\n".join(r["paths"].values()) if r["usable"] else f"[yellow]{r['problem']}[/]",
            str(r["batch"]) if r["batch"] else "-",
        )
    console.print(table)
    style = "green" if info.isolated else "bold red"
    console.print(f"sandbox: [{style}]{info.detail}[/]")
    usable = sum(r["usable"] for r in rows)
    console.print(f"{usable}/{len(rows)} languages usable")


def _install_toolchains() -> None:
    from xpl.languages import all_languages

    missing = [lang for lang in all_languages() if not lang.toolchain.available]
    packages = sorted({p for lang in missing for p in lang.apt_packages})
    if shutil.which("bwrap") is None:
        packages.append("bubblewrap")
    if not packages:
        err.print("all installable toolchains are present")
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        _fail(f"missing toolchains; install as root: apt-get install {' '.join(packages)}")
    err.print(f"installing: {' '.join(packages)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages]):
        proc = subprocess.run(argv, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            _fail(f"`{' '.join(argv)}` failed: {proc.stderr.strip()[-2000:]}")
    for lang in missing:  # re-detect
        lang.__dict__.pop("toolchain", None)


# Lines reported one by one on the terminal; the others are counted (all are in the results).
_SHOWN_ERRORS = 20


_RAY_HELP = "Run on a Ray cluster: --ray (= auto: the cluster started on this machine with `ray start`), --ray ray://HEAD:10001 or --ray HEAD:6379."


def _ray_args(args: list[str]) -> list[str]:
    """``--ray`` takes an optional ADDRESS: a bare ``--ray`` (last, or before an option or a
    word that is no address, such as the jobs file) means ``--ray auto``."""
    from xpl.execution.cluster import check_address

    out: list[str] = []
    for k, arg in enumerate(args):
        out.append(arg)
        if arg == "--ray":
            following = args[k + 1] if k + 1 < len(args) else None
            try:
                address = following is not None and check_address(following)
            except ValueError:
                address = False
            if not address:
                out.append("auto")
    return out


class _RayCommand(TyperCommand):
    """A command with ``--ray [ADDRESS]``."""

    def parse_args(self, ctx, args):
        return super().parse_args(ctx, _ray_args(list(args)))


def _ray_engine(address: str, **kwargs):
    """A ``RayEngine`` on the cluster at ``address``, or a one-line error; says what it found."""
    from xpl.execution.cluster import ClusterUnavailable, RayEngine, check_address
    from xpl.execution.sandbox import SandboxUnavailable

    try:
        check_address(address)
        engine = RayEngine(address, **kwargs)
    except ValueError as exc:
        _fail(f"--ray: {exc}")
    except (ClusterUnavailable, SandboxUnavailable) as exc:
        _fail(str(exc))
    nodes = engine.nodes
    err.print(Text(f"Ray cluster at {address}: {len(nodes)} node(s), {engine.workers} sandboxes; PLs: {', '.join(engine.languages())}"))
    for name, why in engine.excluded.items():
        err.print(_labelled("left out", "yellow", f"node {name}: {why}"))
    return engine


@app.command("exec", cls=_RayCommand)
def exec_(
    file: Path = typer.Argument(..., help="JSONL, one job per line: {id?, language, program, num_tests?, limits?, expected?, meta?}"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Results JSONL (default: FILE with .results.jsonl)."),
    store: Optional[Path] = typer.Option(None, "--store", help="SQLite results store: finished jobs are not re-run."),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", help="Parallel sandboxes (default: cores; with --ray, per node)."),
    sandbox: str = typer.Option("auto", "--sandbox", help="auto | bwrap | none"),
    ray: Optional[str] = typer.Option(None, "--ray", metavar="[ADDRESS]", help=_RAY_HELP),
) -> None:
    """Run a file of programs through the sandboxed, batched engine and write one result per
    non-blank line, in order (a line that is not a job gets an ``invalid_input`` row).
    Exit status 0 when at least one job ran, 2 when none could."""
    from xpl.execution import Engine, Result, SandboxUnavailable, Status, invalid_input
    from xpl.execution.job import load_jobs
    from xpl.languages import ToolchainMissing, get_language

    if not file.is_file():
        _fail(f"{file}: {'is a directory, not a JSONL file' if file.is_dir() else 'no such file'}")
    out = out or file.with_suffix(".results.jsonl")
    if out.is_dir():
        _fail(f"--out {out}: is a directory")
    try:
        lines = load_jobs(file)
    except OSError as exc:
        _fail(f"{file}: cannot read ({exc.strerror})")
    results: dict[int, Result] = {}
    bad = [line for line in lines if line.job is None]
    for i, line in enumerate(bad):
        results[line.number] = invalid_input(line.record, line.error, default_id=f"{file}:{line.number}")
        if i < _SHOWN_ERRORS:
            err.print(_labelled("skipped", "yellow", line.error))
    if len(bad) > _SHOWN_ERRORS:
        err.print(_labelled("skipped", "yellow", f"{len(bad) - _SHOWN_ERRORS} more lines that are not jobs (see their rows in {out})"))
    engine = None
    if ray is not None and len(bad) < len(lines):
        engine = _ray_engine(ray, workers=workers, store=store, sandbox=sandbox)
        cluster_languages = engine.languages()
    # A PL without its toolchain here (with --ray: on any node): its jobs get a sandbox_error
    # row, the others still run.
    runnable = []
    for lang_name in sorted({line.job.language for line in lines if line.job is not None}):
        toolchain = get_language(lang_name).toolchain
        mine = [line for line in lines if line.job is not None and line.job.language == lang_name]
        if (lang_name in cluster_languages) if engine is not None else toolchain.available:
            runnable += mine
            continue
        if engine is not None:
            problem, detail = engine.why_not([lang_name]), f"not run: no node of the Ray cluster runs {lang_name}"
            err.print(_labelled("not run", "yellow", f"{len(mine)} {lang_name} job(s): no node of the Ray cluster runs it ({problem})"))
        else:
            problem, detail = toolchain.problem, "not run: no toolchain here"
            err.print(_labelled("not run", "yellow", f"{len(mine)} {lang_name} job(s): {toolchain.problem} (see `xpl langs`)"))
        for line in mine:
            results[line.number] = Result(Status.SANDBOX_ERROR, lang_name, total=line.job.num_tests or 1, detail=f"{detail} ({problem})", id=line.job.id)
    runnable.sort(key=lambda line: line.number)
    jobs = [line.job for line in runnable]
    if engine is not None and not jobs:
        engine.close()
    if jobs:
        try:
            engine = engine or Engine(workers=workers, store=store, sandbox=sandbox)
        except (SandboxUnavailable, ValueError) as exc:
            _fail(str(exc))
        if not engine.sandbox.isolated:
            err.print(_labelled("WARNING:", "bold red", engine.sandbox.detail))
        with _progress() as bar:
            task = bar.add_task("executing", total=len(jobs))
            try:
                ran = engine.run(jobs, progress=lambda done, total: bar.update(task, completed=done, total=total))
            except ToolchainMissing as exc:
                _fail(str(exc))
        engine.close()
        results.update((line.number, res) for line, res in zip(runnable, ran))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8") as fh:
            for line in lines:
                res = results[line.number]
                meta = line.job.meta if line.job is not None else _record_meta(line.record)
                fh.write(json.dumps({"id": res.id, "line": line.number, **res.to_dict(), "meta": meta}) + "\n")
    except OSError as exc:
        _fail(f"{out}: cannot write ({exc.strerror})")
    ordered = [results[line.number] for line in lines]
    if ordered:
        _summary(ordered)
    if jobs:
        _pass_at_k(jobs, ran)
    note = f" ({len(bad)} line{'' if len(bad) == 1 else 's'} not a job: invalid_input)" if bad else ""
    console.print(Text(f"wrote {len(ordered)} result{'' if len(ordered) == 1 else 's'} to {out}{note}"), soft_wrap=True)
    if not jobs:
        _fail(f"{file}: {'no job could run' if lines else 'no jobs (the file is empty)'}")


def _record_meta(record: Any) -> dict:
    """The ``meta`` of a line that is not a job, where it is an object: its row keeps it."""
    meta = record.get("meta") if isinstance(record, dict) else None
    return meta if isinstance(meta, dict) else {}


def _pass_at_k(jobs, results) -> None:
    """pass@k per PL when the jobs name their problem (``meta.problem``): samples of one problem
    in one PL are its n completions."""
    from xpl.execution import pass_at_k_table

    groups: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for job, res in zip(jobs, results):
        problem = job.meta.get("problem") if isinstance(job.meta, dict) else None
        if problem is not None:
            groups[res.language][str(problem)].append(res.ok)
    if not groups:
        return
    table = Table(title="pass@k (unbiased estimator, mean over problems)")
    for col in ("PL", "problems", "samples/problem", "pass@1", "pass@10", "pass@100"):
        table.add_column(col, justify="right")
    for lang, per_problem in sorted(groups.items()):
        scores = pass_at_k_table(per_problem, ks=(1, 10, 100))
        n = min(len(v) for v in per_problem.values())
        cells = [f"{scores[k]['mean']:.3f}" if k in scores else "-" for k in ("pass@1", "pass@10", "pass@100")]
        table.add_row(lang, str(len(per_problem)), str(n), *cells)
    console.print(table)


def _summary(results) -> None:
    from xpl.execution import Status

    by_lang: dict[str, Counter] = defaultdict(Counter)
    for r in results:
        by_lang[r.language][r.status.value] += 1
    # Every status that occurs, in the enum's order (a column per status would not fit).
    statuses = [s.value for s in Status if any(counts[s.value] for counts in by_lang.values())]
    table = Table(title="results")
    table.add_column("PL")
    for s in statuses:
        table.add_column(s, justify="right")
    table.add_column("cached", justify="right")
    cached = Counter(r.language for r in results if r.cached)
    for lang, counts in sorted(by_lang.items()):
        table.add_row(lang, *[str(counts.get(s, 0) or "") for s in statuses], str(cached.get(lang, 0)))
    console.print(table)


@app.command()
def demo(
    workers: Optional[int] = typer.Option(None, "--workers", "-j", help="Parallel sandboxes (default: cores)."),
) -> None:
    """A small execution demo: one function in every usable PL, right, wrong and broken."""
    import time

    from xpl.execution import Engine, Job
    from xpl.languages import all_languages
    from xpl.languages.demo import DEMO_DOC, DEMO_SIG, DEMO_TESTS, demo_bodies

    engine = Engine(workers=workers)
    jobs = []
    for lang in all_languages():
        if not lang.toolchain.available:
            err.print(f"[yellow]skipping {lang.display_name}[/]: {lang.toolchain.problem}")
            continue
        for kind, body in demo_bodies(lang.name).items():
            program = lang.program(DEMO_SIG, DEMO_DOC, body, DEMO_TESTS)
            expected = lang.expected_results(DEMO_SIG, DEMO_TESTS)
            jobs.append(Job(lang.name, program, len(DEMO_TESTS), id=f"{lang.name}/{kind}", expected=expected))
    console.print(f"sandbox: {engine.sandbox.detail}")
    t0 = time.perf_counter()
    with _progress() as bar:
        task = bar.add_task("running demo programs", total=len(jobs))
        results = engine.run(jobs, progress=lambda d, t: bar.update(task, completed=d, total=t))
    elapsed = time.perf_counter() - t0
    table = Table(title=f"{DEMO_SIG.name}: {len(jobs)} programs in {elapsed:.1f} s")
    for col in ("PL", "correct", "wrong", "broken"):
        table.add_column(col)
    rows: dict[str, dict[str, str]] = defaultdict(dict)
    for job, r in zip(jobs, results):
        lang, kind = job.id.split("/")
        colour = {"ok": "green", "test_failure": "yellow"}.get(r.status.value, "red")
        rows[lang][kind] = f"[{colour}]{r.status.value}[/] {r.passed}/{r.total}"
    for lang, cells in rows.items():
        table.add_row(lang, cells.get("correct", ""), cells.get("wrong", ""), cells.get("broken", ""))
    console.print(table)
    expected = {"correct": "ok", "wrong": "test_failure", "broken": "compile_error"}
    wrong = [j.id for j, r in zip(jobs, results) if r.status.value != expected[j.id.split("/")[1]]]
    if wrong:
        _fail(f"unexpected statuses for {', '.join(wrong)}", code=1)


@app.command(cls=_RayCommand)
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (default: this machine only)."),
    port: int = typer.Option(8080, "--port", help="TCP port."),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", help="Parallel sandboxes per batch (default: cores)."),
    token: Optional[str] = typer.Option(None, "--token", envvar="XPL_SERVE_TOKEN", help="Require 'Authorization: Bearer TOKEN' (or URLs /t/TOKEN/...) on every endpoint but /health."),
    lanes: int = typer.Option(2, "--lanes", help="Batches running at once, each on its own engine."),
    max_pending: int = typer.Option(512, "--max-pending", help="Jobs accepted and not finished; beyond this, 503 with Retry-After."),
    batch_ms: float = typer.Option(5.0, "--batch-ms", help="How long a request waits for others to join its batch."),
    deadline: float = typer.Option(300.0, "--deadline", help="Seconds any request may take at most (then 504)."),
    max_timeout: float = typer.Option(300.0, "--max-timeout", help="Largest compile_timeout / run_timeout accepted."),
    sandbox: str = typer.Option("auto", "--sandbox", help="auto | bwrap | none"),
    access_log: bool = typer.Option(False, "--access-log", help="Log every request."),
    ray: Optional[str] = typer.Option(None, "--ray", metavar="[ADDRESS]", help=_RAY_HELP + " --workers is then per node."),
) -> None:
    """Serve the execution engine over HTTP: SandboxFusion's POST /run_code (verl, TRL,
    OpenRLHF reward sandboxes), POST /run (xpl jobs), GET /health, GET /languages."""
    import logging

    from xpl.execution.sandbox import SandboxUnavailable
    from xpl.execution.service import ServeConfig
    from xpl.execution.service import serve as run_service

    config = ServeConfig(
        host=host, port=port, workers=workers, lanes=lanes, token=token, max_pending=max_pending,
        batch_ms=batch_ms, deadline_s=deadline, max_timeout_s=max_timeout, sandbox=sandbox, access_log=access_log, ray=ray,
    )
    try:
        config.validate()
    except ValueError as exc:
        _fail(str(exc))
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    cluster = _ray_engine(ray, workers=workers, sandbox=sandbox, lanes=lanes) if ray is not None else None
    usable = list(cluster.languages()) if cluster is not None else [lang.name for lang in _usable_languages()]
    auth = "bearer token required" if token else "no token"
    err.print(Text(f"xpl serve: http://{host}:{port} ({auth}); POST /run_code, POST /run, GET /health, GET /languages; PLs: {', '.join(usable)}"))
    try:
        run_service(config, cluster)
    except SandboxUnavailable as exc:
        _fail(str(exc))


def _usable_languages():
    from xpl.languages import all_languages

    return [lang for lang in all_languages() if lang.toolchain.available]


corpus_app = typer.Typer(no_args_is_help=True, help="Corpora of parallel programs: translations by a model, kept when they pass.")
app.add_typer(corpus_app, name="corpus")


@corpus_app.command("translate")
def corpus_translate(
    model: str = typer.Option(..., "--model", "-m", help="Model folder (or smollm2-135m, organism)."),
    problems: str = typer.Option("humaneval", "--problems", "-p", help="humaneval, or a problems file (xpl JSONL) with solutions in the source PL."),
    source: str = typer.Option("python", "--from", help="The PL whose solutions are translated."),
    to: str = typer.Option("rust,go,java,javascript", "--to", help="Comma-separated target PLs."),
    chat: Optional[bool] = typer.Option(None, "--chat/--completion", help="Prompt style (default: chat for an instruct model with a chat template)."),
    prefill: str = typer.Option("prompt", "--prefill", help="Chat: open the answer with the target PL's prompt (prompt: the model writes the body), with the fence alone (fence: the whole function), or the first then, where nothing was kept, the second (both)."),
    n: int = typer.Option(4, "--n", help="Samples per problem and PL; the first that passes is kept."),
    temperature: float = typer.Option(0.8, "--temperature", help="0 = greedy (then --n must be 1)."),
    top_p: float = typer.Option(0.95, "--top-p"),
    max_new_tokens: int = typer.Option(384, "--max-new-tokens"),
    batch_size: int = typer.Option(16, "--batch-size"),
    limit: int = typer.Option(0, "--limit", help="Only the first N problems (0 = all)."),
    seed: int = typer.Option(0, "--seed"),
    workers: Optional[int] = typer.Option(None, "--workers", "-j"),
    out: Path = typer.Option(Path("runs/translate"), "--out", "-o", help="Output directory (rerun the same command to resume)."),
) -> None:
    """Translate each problem's solution into other PLs with a model; keep what passes the tests."""
    from xpl.experiments.evaluation import load_benchmark
    from xpl.experiments.translate import TranslateRequest, translate
    from xpl.languages import UnknownLanguage, get_language
    from xpl.models.loading import ModelNotFound
    from xpl.problems.problem import ProblemFormatError
    from xpl.training.common import limit_threads

    limit_threads()
    style = "auto" if chat is None else "chat" if chat else "completion"
    try:
        targets = [get_language(x).name for x in to.split(",") if x.strip()]
        request = TranslateRequest(model, get_language(source).name, targets, style, n, temperature, top_p, max_new_tokens, batch_size, seed, prefill=prefill, workers=workers)
        request.validate("corpus translate")
        chosen = load_benchmark(problems)
        if limit:
            chosen = chosen[:limit]
        with _progress() as bar:
            task = bar.add_task("translating", total=None)
            summary = translate(request, chosen, out, progress=lambda label, done, total: bar.update(task, completed=done, total=total))
    except (UnknownLanguage, ModelNotFound, ProblemFormatError, ValueError) as exc:
        _fail(str(exc))
    from xpl.experiments.translate import render_yield

    console.print(render_yield(summary))
    console.print(f"wrote {out / 'problems.jsonl'}, {out / 'pairs'} (parquet), {out / 'yield.md'}; attempts in {out / 'attempts.jsonl'}")


problems_app = typer.Typer(no_args_is_help=True, help="Problem sets: HumanEval in every PL, and the generated parallel program family.")
app.add_typer(problems_app, name="problems")


@problems_app.command("export")
def problems_export(
    name: str = typer.Argument("humaneval", help="Problem set (humaneval)."),
    lang: str = typer.Option(..., "--lang", "-l", help="Target PL (name or MultiPL-E alias, e.g. rs)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="MultiPL-E JSONL (default: <name>-<lang>.jsonl)."),
) -> None:
    """Write a problem set as MultiPL-E JSONL in one PL; untranslatable problems are listed."""
    from xpl.languages import UnknownLanguage, get_language
    from xpl.problems import write_multipl_e
    from xpl.problems.humaneval import humaneval_problems

    if name != "humaneval":
        _fail(f"unknown problem set {name!r}; known: humaneval")
    try:
        language = get_language(lang)
    except UnknownLanguage as exc:
        _fail(str(exc))
    problems, skipped = humaneval_problems()
    out = out or Path(f"{name}-{language.aliases[0] if language.aliases else language.name}.jsonl")
    n, unsupported = write_multipl_e(out, problems, language.name)
    for task, reason in skipped.items():
        err.print(f"[yellow]skipped[/] {task}: {reason}")
    for line in unsupported:
        err.print(f"[yellow]skipped[/] {line}")
    console.print(f"wrote {n} of 164 HumanEval problems in {language.display_name} to {out}")


@problems_app.command("generate")
def problems_generate(
    n: int = typer.Option(1000, "--n", help="How many problems to generate (before verification)."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed gives the same problems."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory."),
    langs: Optional[str] = typer.Option(None, "--langs", help="Comma-separated PLs (default: every usable one)."),
    test_fraction: float = typer.Option(0.2, "--test-fraction", help="Share of problems in the test split."),
    levels: str = typer.Option("1,2,3,4", "--levels", help="Difficulty levels to draw from, comma-separated."),
    check: bool = typer.Option(True, "--verify/--no-verify", help="Run every solution in every PL (default) or only render."),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", help="Parallel sandboxes (default: cores)."),
    exclude: Optional[Path] = typer.Option(
        None, "--exclude", help="Problems (JSONL) whose behaviour no generated problem may have, e.g. another set's test.jsonl."
    ),
) -> None:
    """Generate the built-in family of parallel programs: problems, a verified solution per PL, splits."""
    from xpl.languages import UnknownLanguage, get_language
    from xpl.problems.family import NotEnoughBehaviours, build

    if n < 1:
        _fail(f"--n must be at least 1, got {n}")
    if not 0.0 <= test_fraction <= 1.0:
        _fail(f"--test-fraction must be between 0 and 1, got {test_fraction}")
    try:
        level_list = tuple(int(x) for x in levels.split(",") if x.strip())
    except ValueError:
        _fail(f"--levels must be comma-separated integers, got {levels!r}")
    if not level_list or not set(level_list) <= {1, 2, 3, 4}:
        _fail(f"--levels must be among 1,2,3,4, got {levels!r}")
    lang_list = None
    if langs:
        try:
            lang_list = [get_language(x.strip()).name for x in langs.split(",") if x.strip()]
        except UnknownLanguage as exc:
            _fail(str(exc))
        for name in lang_list:
            tc = get_language(name).toolchain
            if check and not tc.available:
                _fail(f"--langs: {tc.problem}")
    with _progress() as bar:
        tasks: dict[str, int] = {}

        def on_progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                label = {"generate": "generating problems", "verify": "running solutions in every PL"}[stage]
                tasks[stage] = bar.add_task(label, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        excluded = _read_problem_file(exclude, "--exclude") if exclude else ()
        try:
            built = build(n, seed, out, lang_list, test_fraction, level_list, check, workers, on_progress, excluded)
        except NotEnoughBehaviours as exc:
            _fail(str(exc))
    if built.excluded:
        console.print(f"dropped {built.excluded} generated problems that behave like one in {exclude}")
    v = built.verification
    if v is not None:
        table = Table(title=f"{v.programs} solutions run in {v.seconds:.1f} s")
        for col in ("PL", "passed", "failed"):
            table.add_column(col)
        for lang, row in v.summary()["languages"].items():
            table.add_row(lang, str(row["passed"]), f"[red]{row['failed']}[/]" if row["failed"] else "0")
        console.print(table)
        for lang, why in v.unavailable.items():
            err.print(f"[yellow]not checked[/] {lang}: {why}")
        for f in v.failures[:20]:
            err.print(f"[red]failed[/] {f.problem} in {f.language}: {f.status}: {f.detail[:300]}")
        if len(v.failures) > 20:
            err.print(f"... {len(v.failures) - 20} more failures in {out / 'verification.json'}")
    train, test = len(built.split("train")), len(built.split("test"))
    console.print(f"kept {len(built.problems)} of {n} problems (train {train}, test {test}) in {out}/")


@problems_app.command("merge")
def problems_merge(
    files: list[Path] = typer.Argument(..., help="Problem files (JSONL) to join, in order."),
    out: Path = typer.Option(..., "--out", "-o", help="The joined file (JSONL)."),
) -> None:
    """Join problem files, keeping the first problem of each behaviour (family problems with the
    same fingerprint, e.g. from two seeds) and of each name."""
    from xpl.problems import write_problems

    kept, seen, dropped = [], set(), 0
    for path in files:
        for p in _read_problem_file(path, str(path)):
            keys = {("name", p.name)} | ({("fingerprint", p.meta["fingerprint"])} if "fingerprint" in p.meta else set())
            if keys & seen:
                dropped += 1
                continue
            seen |= keys
            kept.append(p)
    write_problems(out, kept)
    console.print(f"wrote {len(kept)} problems to {out} ({dropped} repeated behaviours or names dropped)")


train_app = typer.Typer(no_args_is_help=True, help="Training stages: pretrain (tiny models), SFT / Parallel-SFT, GRPO.")
app.add_typer(train_app, name="train")


def _read_problem_file(path: Path, what: str):
    from xpl.problems import read_problems

    if not path.is_file():
        _fail(f"{what}: {path} does not exist (make one with `xpl problems generate`)")
    problems, errors = read_problems(path)
    for e in errors:
        err.print(_labelled("skipped", "yellow", e))
    if not problems:
        _fail(f"{what}: {path} holds no usable problem")
    return problems


def _stage_config(cls, path: Optional[Path]):
    from xpl.experiments.config import load_config
    from xpl.languages import UnknownLanguage
    from xpl.training.common import ConfigError

    try:
        config = load_config(cls, path) if path else cls()
        config.validate()
    except (ConfigError, UnknownLanguage) as exc:
        _fail(str(exc))
    return config


def _run_stage(label: str, fn, *args):
    """Run a training stage with a progress bar; configuration errors become one-line errors."""
    from xpl.corpus import CorpusError
    from xpl.models.loading import ModelNotFound
    from xpl.training.common import ConfigError

    with _progress() as bar:
        task = bar.add_task(label, total=None)

        def report(step: int, total: int, logs) -> None:
            bar.update(task, completed=step, total=total or None)
            if logs and "loss" in logs:
                bar.update(task, description=f"{label} (loss {logs['loss']:.3f})")

        try:
            return fn(*args, report=report)
        except (ConfigError, ModelNotFound, CorpusError) as exc:
            _fail(str(exc))


@train_app.command("ship")
def train_ship(
    stage: Path = typer.Argument(..., help="A finished pretraining stage directory (xpl train pretrain --out)."),
    out: Path = typer.Option(..., "--out", "-o", help="The model folder to write (replaced)."),
    note: Optional[Path] = typer.Option(None, "--note", help="JSON file of facts to add to the manifest (data commands, ...)."),
) -> None:
    """Write a pretrained tiny model as a compact folder (float16 safetensors, tokenizer, manifest
    with checksums and the stage record): how the shipped base `organism` is made."""
    from xpl.models.shipped import ShipError, ship

    extra = None
    if note is not None:
        try:
            extra = json.loads(note.read_text())
        except (OSError, ValueError) as exc:
            _fail(f"--note: {note}: {exc}")
    try:
        manifest = ship(stage, out, extra)
    except ShipError as exc:
        _fail(str(exc))
    size = (out / "model.safetensors").stat().st_size
    console.print(f"{out}: {manifest['parameters']:,} parameters, {size / 1e6:.1f} MB, sha256 {manifest['sha256']['model.safetensors'][:16]}...")


@train_app.command("pretrain")
def train_pretrain(
    problems: Path = typer.Option(..., "--problems", "-p", help="Problems with parallel solutions (e.g. DIR/train.jsonl)."),
    heldout: Optional[Path] = typer.Option(None, "--heldout", help="Held-out problems for per-PL loss (e.g. DIR/test.jsonl)."),
    out: Path = typer.Option(..., "--out", "-o", help="Stage directory (resumed if it exists)."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML with the pretrain keys (defaults if omitted)."),
) -> None:
    """Pretrain a tiny model on programs with per-PL proportions (shuffled or parallel pairs)."""
    from xpl.training.common import limit_threads
    from xpl.training.pretrain import PretrainConfig, pretrain

    limit_threads()
    cfg = _stage_config(PretrainConfig, config)
    train = _read_problem_file(problems, "--problems")
    held = _read_problem_file(heldout, "--heldout") if heldout else []
    record = _run_stage("pretraining", pretrain, train, held, cfg, out)
    for lang, after in record["heldout_loss_after"].items():
        console.print(f"{lang}: held-out loss {record['heldout_loss_before'][lang]:.3f} -> {after:.3f}")
    console.print(f"model: {record['model']}")


@train_app.command("sft")
def train_sft(
    model: str = typer.Option(..., "--model", "-m", help="Model folder (or smollm2-135m)."),
    problems: Path = typer.Option(..., "--problems", "-p", help="Problems with solutions (JSONL)."),
    out: Path = typer.Option(..., "--out", "-o", help="Stage directory (resumed if it exists)."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML with the sft keys; parallel_languages makes it Parallel-SFT."),
) -> None:
    """Supervised fine-tuning (Parallel-SFT when parallel_languages is set)."""
    from xpl.training.common import limit_threads
    from xpl.training.sft import SFTConfig, sft

    limit_threads()
    cfg = _stage_config(SFTConfig, config)
    record = _run_stage("fine-tuning", sft, model, _read_problem_file(problems, "--problems"), cfg, out)
    console.print(f"{record['stage']}: {record['examples']} examples {record['examples_by_kind']}, {record['steps']} steps")
    console.print(f"model: {record['model']}")


@train_app.command("grpo")
def train_grpo(
    model: str = typer.Option(..., "--model", "-m", help="Model folder (or smollm2-135m)."),
    problems: Path = typer.Option(..., "--problems", "-p", help="Problems to learn from (JSONL)."),
    out: Path = typer.Option(..., "--out", "-o", help="Stage directory (resumed if it exists)."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML with the grpo keys."),
) -> None:
    """Reinforcement learning (GRPO) with rewards from running the completions' tests."""
    from xpl.training.common import limit_threads
    from xpl.training.grpo import GRPOConfig, grpo

    limit_threads()
    cfg = _stage_config(GRPOConfig, config)
    record = _run_stage("GRPO", grpo, model, _read_problem_file(problems, "--problems"), cfg, out)
    curve = record["reward_curve"]
    if curve:
        console.print(f"mean reward: first step {curve[0]['reward']:.3f}, last step {curve[-1]['reward']:.3f}")
    console.print(f"reward computation: {record['reward_share']:.1%} of the stage's time; model: {record['model']}")


_DTYPES = ("float32", "bfloat16", "float16")
_DTYPE_HELP = (
    "The weights' type while sampling: float32 (the default with hf), bfloat16 or float16. bfloat16 halves the memory "
    "read per token: 1.7x faster sampling for SmolLM2-135M on a CPU with AVX-512 BF16; slower where the CPU lacks "
    "it. Replies then differ from float32 ones in places (near-ties of greedy decoding), so compare like with like."
)


def _check_dtype(dtype: str) -> None:
    if dtype not in _DTYPES:
        raise ValueError(f"--dtype {dtype}: expected one of {', '.join(_DTYPES)}")


def _check_backend(backend: str, sampling: bool = True) -> None:
    """``--backend``: hf or vllm, and vllm only where it can run (else one line saying why)."""
    from xpl.models.generation import require_vllm

    if backend not in ("hf", "vllm"):
        raise ValueError(f"--backend must be hf or vllm, got {backend!r}")
    if backend == "vllm":
        if not sampling:
            raise ValueError("--backend vllm samples from --model; --generations scores a file and samples nothing")
        require_vllm("--backend vllm", "use --backend hf here")


@app.command()
def generate(
    model: str = typer.Option(..., "--model", "-m", help="Model folder (or smollm2-135m)."),
    problems: Path = typer.Option(..., "--problems", "-p", help="Problems (xpl JSONL)."),
    lang: str = typer.Option(..., "--lang", "-l", help="PL to generate in."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory."),
    n: int = typer.Option(1, "--n", help="Samples per problem."),
    temperature: float = typer.Option(0.2, "--temperature"),
    top_p: float = typer.Option(0.95, "--top-p"),
    max_new_tokens: int = typer.Option(256, "--max-new-tokens"),
    batch_size: int = typer.Option(16, "--batch-size"),
    seed: int = typer.Option(0, "--seed"),
    chat: Optional[bool] = typer.Option(None, "--chat/--completion", help="Prompt style (default: chat for an instruct model with a chat template)."),
    evaluate_: bool = typer.Option(True, "--eval/--no-eval", help="Run the completions' tests and report pass@k."),
    workers: Optional[int] = typer.Option(None, "--workers", "-j"),
    backend: str = typer.Option("hf", "--backend", help="hf (Hugging Face generate) or vllm (vLLM on the model folder; needs a CUDA GPU and the vllm package)."),
    dtype: Optional[str] = typer.Option(None, "--dtype", help=_DTYPE_HELP),
) -> None:
    """Sample completions for problems in one PL; write bigcode-style generations and pass@k."""
    from xpl.execution import Engine
    from xpl.experiments.evaluation import write_generations
    from xpl.languages import UnknownLanguage, get_language
    from xpl.models.generation import SamplingConfig, evaluate, resolve_prompt_style, sample
    from xpl.models.loading import ModelNotFound, load_model, load_tokenizer, resolve
    from xpl.training.common import limit_threads

    limit_threads()
    try:
        language = get_language(lang)
        _check_backend(backend)
        if dtype is not None:
            _check_dtype(dtype)
            if backend == "vllm":
                raise ValueError("--dtype with --backend vllm: use `xpl eval --backend vllm --dtype ...` (xpl generate starts vLLM with its own choice)")
        sampling = SamplingConfig(n=n, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, batch_size=batch_size, seed=seed, backend=backend)
        # vLLM loads the model folder itself (sample() starts it and gives its memory back)
        loaded = (resolve(model), load_tokenizer(model)) if backend == "vllm" else load_model(model, dtype=dtype or "float32")
        style = resolve_prompt_style("auto" if chat is None else "chat" if chat else "completion", loaded[1], str(resolve(model)))
    except (UnknownLanguage, ValueError, ModelNotFound) as exc:
        _fail(str(exc))
    mdl, tokenizer = loaded
    items = [p for p in _read_problem_file(problems, "--problems") if language.supports(p.signature) is None]
    rendered = [p.render_as(language, style) for p in items]
    out.mkdir(parents=True, exist_ok=True)
    with _progress() as bar:
        task = bar.add_task(f"sampling {language.display_name} ({style})", total=len(items) * n)
        completions = sample(
            mdl, tokenizer, [r.prompt_text(tokenizer) for r in rendered], [r.stop_sequences for r in rendered], sampling,
            progress=lambda d, t: bar.update(task, completed=d, total=t),
        )
    gen_path = out / f"generations_{language.name}.json"
    write_generations(gen_path, rendered, completions)
    console.print(f"wrote {gen_path}")
    if not evaluate_:
        return
    engine = Engine(workers=workers)
    try:
        with _progress() as bar:
            task = bar.add_task("running tests", total=len(items) * n)
            ev = evaluate(items, language.name, completions, engine, progress=lambda d, t: bar.update(task, completed=d, total=t), style=style)
    finally:
        engine.close()
    with (out / f"results_{language.name}.jsonl").open("w") as fh:
        for name, comps, results in zip(ev.problems, ev.completions, ev.results):
            for k, (c, r) in enumerate(zip(comps, results)):
                fh.write(json.dumps({"problem": name, "sample": k, "completion": c, **r.to_dict()}) + "\n")
    ks = [k for k in (1, 10, 100) if k <= n]
    console.print(" ".join(f"pass@{k} = {ev.pass_at(k):.3f}" for k in ks) + f" over {len(items)} problems")


@app.command("eval")
def eval_(
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model folder (or smollm2-135m)."),
    benchmark: str = typer.Option("humaneval", "--benchmark", "-b", help="humaneval, or a problems file (xpl JSONL, e.g. a family test.jsonl)."),
    langs: str = typer.Option("py,rs,go,php,rb,java,js", "--langs", "-l", help="Comma-separated PLs."),
    chat: Optional[bool] = typer.Option(None, "--chat/--completion", help="Prompt style (default: chat for an instruct model with a chat template)."),
    generations: Optional[Path] = typer.Option(None, "--generations", "-g", help="Score this bigcode generations file (one PL, --langs) instead of sampling."),
    out: Path = typer.Option(Path("runs/eval"), "--out", "-o", help="Output directory."),
    n: int = typer.Option(1, "--n", help="Samples per problem."),
    temperature: float = typer.Option(0.0, "--temperature", help="0 = greedy (then --n must be 1)."),
    top_p: float = typer.Option(0.95, "--top-p"),
    max_new_tokens: int = typer.Option(256, "--max-new-tokens"),
    batch_size: int = typer.Option(16, "--batch-size"),
    max_problems: int = typer.Option(0, "--max-problems", help="At most this many problems per PL (0 = all)."),
    seed: int = typer.Option(0, "--seed"),
    workers: Optional[int] = typer.Option(None, "--workers", "-j"),
    backend: str = typer.Option("hf", "--backend", help="hf (Hugging Face generate) or vllm (vLLM on the model folder; needs a CUDA GPU and the vllm package)."),
    dtype: Optional[str] = typer.Option(None, "--dtype", help=_DTYPE_HELP),
) -> None:
    """pass@1 (with a 95% CI over problems) and pass@k per PL for a model or a generations file."""
    from xpl.experiments.evaluation import EvalRequest, evaluate_model, score_generations
    from xpl.languages import UnknownLanguage, get_language
    from xpl.models.loading import ModelNotFound
    from xpl.problems.problem import ProblemFormatError
    from xpl.training.common import limit_threads

    limit_threads()
    style = "auto" if chat is None else "chat" if chat else "completion"
    try:
        languages = [get_language(x).name for x in langs.split(",") if x.strip()]
        if not languages:
            raise ValueError("--langs: name at least one PL")
        if (model is None) == (generations is None):
            raise ValueError("give --model (sample, then score) or --generations (score a file), not both or neither")
        _check_backend(backend, sampling=model is not None)
        missing = [get_language(x).display_name for x in languages if not get_language(x).toolchain.available]
        if missing:
            raise ValueError(f"no toolchain here for {', '.join(missing)} (see `xpl langs`)")
        with _progress() as bar:
            tasks: dict[str, Any] = {}

            def report(label: str, done: int, total: int) -> None:
                if label not in tasks:
                    tasks[label] = bar.add_task(label, total=total)
                bar.update(tasks[label], completed=done, total=total)

            if generations is not None:
                if dtype is not None:
                    raise ValueError("--dtype is the weights' type while sampling; --generations scores a file without sampling")
                if len(languages) != 1:
                    raise ValueError("--generations scores one PL: give exactly one in --langs")
                summary = score_generations(generations, benchmark, languages[0], out, style, max_problems, workers, report)
            else:
                if dtype is not None:
                    _check_dtype(dtype)
                request = EvalRequest(
                    model, benchmark, languages, style, n, temperature, top_p, max_new_tokens, batch_size, seed, max_problems, workers, backend,
                    dtype,
                )
                summary = evaluate_model(request, out, report)
    except (UnknownLanguage, ModelNotFound, ProblemFormatError, ValueError) as exc:
        _fail(str(exc))
    from xpl.experiments.evaluation import render_table

    console.print(render_table(summary), markup=False, soft_wrap=True)
    console.print(f"wrote {out / 'summary.json'}, {out / 'report.md'} and per-PL generations and results")


@app.command()
def compare(
    before: Path = typer.Argument(..., help="An `xpl eval --out` folder (e.g. the starting model), or an `xpl run` directory."),
    after: Path = typer.Argument(..., help="Another one of the same kind: the same benchmark, or a run on the same problems (e.g. a `--reuse` variant)."),
    langs: Optional[str] = typer.Option(None, "--langs", "-l", help="Comma-separated PLs (default: every PL both folders scored)."),
    models: Optional[str] = typer.Option(
        None, "--models", "-m", help="Two runs only: comma-separated models (base, sft, sft_rl, parallel_sft, parallel_sft_rl; default: every one both evaluated)."
    ),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the comparison (with the problems that went up or down) here."),
) -> None:
    """Paired pass@1 difference per PL: of two `xpl eval` folders (95% bootstrap CIs over the
    shared problems), or of two `xpl run` directories model by model (pooled over their shared
    seeds, seeds and problems resampled, each seed's difference)."""
    from xpl.experiments.compare import compare_runs, is_run_directory, render_run_comparison
    from xpl.experiments.evaluation import compare_evals, render_comparison
    from xpl.languages import UnknownLanguage

    lang_list = [x for x in langs.split(",") if x.strip()] if langs else None
    runs = [is_run_directory(before), is_run_directory(after)]
    try:
        if all(runs):
            result = compare_runs(before, after, [m.strip() for m in models.split(",") if m.strip()] if models else None, lang_list)
            text = render_run_comparison(result)
        elif any(runs):
            run, other = (before, after) if runs[0] else (after, before)
            raise ValueError(f"{run} is an `xpl run` directory but {other} is not: compare two runs, or two `xpl eval` folders")
        else:
            if models:
                raise ValueError("--models picks models of two `xpl run` directories; these are not runs")
            result = compare_evals(before, after, lang_list)
            text = render_comparison(result)
    except (UnknownLanguage, ValueError) as exc:
        _fail(str(exc))
    console.print(text, markup=False, soft_wrap=True)
    if json_out is not None:
        from xpl.io import write_json

        write_json(json_out, result)
        console.print(f"wrote {json_out}")


_SEEDS_HELP = "Seeds to run instead of the config's: 0-9, 0,1,2 or 3,5-7. A run directory takes more seeds and keeps the finished ones."


@app.command()
def run(
    config: Optional[Path] = typer.Argument(None, help="Experiment YAML (default: the embedded default experiment)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run directory (default: runs/<experiment name>)."),
    quick_mode: bool = typer.Option(False, "--quick", help="A minutes-long smoke run: one seed, few problems and steps."),
    seeds: Optional[str] = typer.Option(None, "--seeds", help=_SEEDS_HELP),
    reuse: Optional[Path] = typer.Option(
        None,
        "--reuse",
        help="Another run directory: its finished stages whose settings this config shares (problems, base, SFT, "
        "Parallel-SFT, GRPO, evaluations per PL) are linked in instead of run again; for sweeps over GRPO or evaluation settings.",
    ),
) -> None:
    """The Parallel-SFT transfer experiment end to end: problems, training, evaluation, report."""
    from functools import partial

    from xpl.experiments.pipeline import quick, run_experiment
    from xpl.experiments.spec import load_experiment

    if reuse is not None and not reuse.is_dir():
        _fail(f"--reuse {reuse}: no such run directory")
    execute = partial(run_experiment, reuse=reuse) if reuse is not None else run_experiment
    _experiment_command(load_experiment, quick, execute, config, out, quick_mode, seeds)


def parse_seeds(text: str) -> list[int]:
    """``--seeds``: ``0-9``, ``0,1,2`` or a mix (``3,5-7``), in the order given."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        low, dash, high = part.partition("-")
        if not low.strip().isdigit() or (dash and not high.strip().isdigit()):
            raise typer.BadParameter(f"{text!r}: expected seeds like 0-9, 0,1,2 or 3,5-7 (non-negative integers)", param_hint="--seeds")
        first, last = int(low), int(high) if dash else int(low)
        if last < first:
            raise typer.BadParameter(f"{text!r}: the range {part} runs backwards", param_hint="--seeds")
        seeds.extend(range(first, last + 1))
    if len(set(seeds)) != len(seeds):
        raise typer.BadParameter(f"{text!r}: a seed is named twice", param_hint="--seeds")
    return seeds


def _experiment_command(load, make_quick, execute, config: Optional[Path], out: Optional[Path], quick_mode: bool, seeds: Optional[str] = None) -> None:
    """What `xpl run`, `xpl flex` and `xpl bts` share: load and check the config (one-line
    errors), run every stage with progress bars into the run directory, print the report."""
    from xpl.corpus import CorpusError
    from xpl.languages import UnknownLanguage
    from xpl.models.loading import ModelNotFound
    from xpl.problems.family import NotEnoughBehaviours
    from xpl.training.common import ConfigError, limit_threads

    limit_threads()
    chosen = parse_seeds(seeds) if seeds is not None else None
    try:
        cfg = load(config)
        if quick_mode:
            cfg = make_quick(cfg)
        if chosen is not None:  # after --quick's one seed: `--quick --seeds 0-2` smoke-runs three
            cfg.seeds = chosen
        if quick_mode or chosen is not None:
            cfg.validate()
    except (ConfigError, UnknownLanguage, ModelNotFound) as exc:
        _fail(str(exc))
    target = out or Path("runs") / (cfg.name + ("-quick" if quick_mode else ""))
    console.print(f"experiment [bold]{cfg.name}[/] -> {target}/ (rerun the same command to resume)")
    with _progress() as bar:
        tasks: dict[str, int] = {}

        def report(stage: str, done: int, total, detail: str) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total, description=f"{stage} {detail}".rstrip())

        try:
            results = execute(cfg, target, report)
        except (ConfigError, ModelNotFound, CorpusError, UnknownLanguage, NotEnoughBehaviours) as exc:
            _fail(str(exc))
    console.print((target / "report.md").read_text(), markup=False, highlight=False)
    console.print(f"report: {target / 'report.md'}; every number: {target / 'results.json'}; total {results['seconds'] / 60:.1f} min")


analyze_app = typer.Typer(no_args_is_help=True, help="Analyses of models: representations of parallel programs across PLs.")
app.add_typer(analyze_app, name="analyze")


def _expand_multi(args: list[str], options: tuple[str, ...]) -> list[str]:
    """``--models A B C`` -> ``--models A --models B --models C`` (values run to the next option)."""
    out: list[str] = []
    current = None
    for arg in args:
        if arg == "--":
            current = None
            out.append(arg)
        elif arg in options:
            current = arg
        elif arg.startswith("-"):
            current = None
            out.append(arg)
        elif current is not None:
            out += [current, arg]
        else:
            out.append(arg)
    return out


class _MultiValueCommand(TyperCommand):
    """A command whose --models/--names take several values after one flag (or repeated flags)."""

    def parse_args(self, ctx, args):
        return super().parse_args(ctx, _expand_multi(list(args), ("--models", "-m", "--names")))


def _model_names(models: list[str]) -> list[str]:
    """Default names: the folder's name (its parent's for a stage's ``final``), made unique."""
    names: list[str] = []
    for spec in models:
        path = Path(spec)
        name = path.parent.name if path.name == "final" and path.parent.name else (path.name or spec)
        base, k = name, 2
        while name in names:
            name, k = f"{base}-{k}", k + 1
        names.append(name)
    return names


@analyze_app.command("representations", cls=_MultiValueCommand)
def analyze_representations(
    models: list[str] = typer.Option(..., "--models", "-m", help="Model folders (or smollm2-135m): --models A B C; the first is the reference."),
    names: Optional[list[str]] = typer.Option(None, "--names", help="A name per model: --names base sft psft (default: folder names)."),
    problems: Path = typer.Option(..., "--problems", "-p", help="Problems with parallel solutions (xpl JSONL)."),
    langs: str = typer.Option(..., "--langs", "-l", help="Comma-separated PLs, e.g. python,rust,go."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory: results.json, report.md, PNGs."),
    layers: str = typer.Option("all", "--layers", help="all | last | comma-separated indices (0 = embeddings)."),
    pooling: str = typer.Option("mean", "--pooling", help="mean | last (token)."),
    max_problems: int = typer.Option(100, "--max-problems", help="At most this many problems (a seeded sample)."),
    report_layer: str = typer.Option("best", "--report-layer", help="best (shared layer with the best mean retrieval MRR) | last | N."),
    batch_size: int = typer.Option(16, "--batch-size"),
    reps: int = typer.Option(1000, "--reps", help="Bootstrap resamples."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Do equivalent programs in different PLs sit together inside the model? Distances and cross-PL retrieval per layer."""
    from xpl.analysis.representations import POOLINGS, AnalysisError, analyze, parse_layers
    from xpl.languages import UnknownLanguage, get_language
    from xpl.models.loading import ModelNotFound
    from xpl.models.loading import check as check_model
    from xpl.training.common import limit_threads

    limit_threads()
    model_names = list(names) if names else _model_names(models)
    if len(model_names) != len(models):
        _fail(f"--names: {len(model_names)} names for {len(models)} models")
    if len(set(model_names)) != len(model_names):
        _fail(f"--names must be distinct, got {' '.join(model_names)}")
    if pooling not in POOLINGS:
        _fail(f"--pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
    if max_problems < 2:
        _fail(f"--max-problems must be at least 2, got {max_problems}")
    try:
        parse_layers(layers)
        lang_list = [get_language(x.strip()).name for x in langs.split(",") if x.strip()]
    except (AnalysisError, UnknownLanguage) as exc:
        _fail(str(exc))
    if len(set(lang_list)) < 2:
        _fail(f"--langs needs at least two PLs, got {langs!r}")
    for spec in models:
        try:
            check_model(spec)
            if spec.startswith("tiny:"):
                raise ModelNotFound(f"{spec!r} is a tiny model to build and train first, not a folder to analyse")
        except ModelNotFound as exc:
            _fail(f"--models: {exc}")
    items = _read_problem_file(problems, "--problems")
    for lang in lang_list:
        if not any(lang in p.solutions for p in items):
            _fail(f"--langs: {problems} has no {lang} solution (generate the problems with {lang} in --langs)")
    with _progress() as bar:
        tasks: dict[str, int] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        try:
            results = analyze(
                dict(zip(model_names, models)), items, lang_list, layers, pooling, out_dir=out,
                max_problems=max_problems, report_layer=report_layer, batch_size=batch_size, reps=reps, seed=seed,
                progress=report,
            )
        except (AnalysisError, ModelNotFound, UnknownLanguage) as exc:
            _fail(str(exc))
    console.print((out / "report.md").read_text().split("\n![")[0], markup=False, highlight=False, soft_wrap=True)
    truncated = {n: m["truncated"] for n, m in results["models"].items() if m.get("truncated")}
    for name, k in truncated.items():
        err.print(f"[yellow]note[/] {name}: {k} programs longer than the model's context ({results['models'][name]['max_length']} tokens) were cut")
    console.print(f"wrote {out / 'results.json'}, {out / 'report.md'} and {len(results['plots'])} plots to {out}/")


@app.command()
def flex(
    config: Optional[Path] = typer.Argument(None, help="FLeX experiment YAML (default: the embedded flex configuration)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run directory (default: runs/<experiment name>)."),
    quick_mode: bool = typer.Option(False, "--quick", help="A minutes-long smoke run: one seed, few problems and steps."),
    seeds: Optional[str] = typer.Option(None, "--seeds", help=_SEEDS_HELP),
) -> None:
    """FLeX: LoRA on Python with and without the Fourier regulariser, AdamW vs Sophia; transfer to other PLs."""
    from xpl.experiments.flex import load_flex, quick, run_flex

    _experiment_command(load_flex, quick, run_flex, config, out, quick_mode, seeds)


@app.command()
def bts(
    config: Optional[Path] = typer.Argument(None, help="BTS experiment YAML (default: the embedded bts configuration)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run directory (default: runs/<experiment name>)."),
    quick_mode: bool = typer.Option(False, "--quick", help="A minutes-long smoke run: two experts, two PLs, few problems and steps."),
    seeds: Optional[str] = typer.Option(None, "--seeds", help=_SEEDS_HELP),
) -> None:
    """Branch-Train-Stitch: experts continually pretrained on one PL group each, joined frozen by stitch layers; vs soup, BTX, BTM."""
    from xpl.experiments.bts import load_bts, quick, run_bts

    _experiment_command(load_bts, quick, run_bts, config, out, quick_mode, seeds)


scaling_app = typer.Typer(no_args_is_help=True, help="Multilingual scaling laws: sweep a grid of tiny pretrainings, fit the laws, allocate a budget.")
app.add_typer(scaling_app, name="scaling")


@scaling_app.command("sweep", cls=_RayCommand)
def scaling_sweep(
    config: Path = typer.Argument(..., help="Sweep YAML (sizes, budgets, PLs, mixtures; e.g. docs/scaling/ladder.yaml)."),
    out: Path = typer.Option(..., "--out", "-o", help="Sweep folder (finished jobs are skipped, a killed one resumes)."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Runs at once on this machine (processes)."),
    shard: str = typer.Option("0/1", "--shard", help="i/n: run only every n-th job starting at i (one shard per machine)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="Torch threads per run (default: cores / --jobs, or OMP_NUM_THREADS)."),
    list_only: bool = typer.Option(False, "--list", help="Print the jobs and whether each has finished; train nothing."),
    ray: Optional[str] = typer.Option(None, "--ray", metavar="[ADDRESS]", help=_RAY_HELP + " Each job is a Ray task of --threads CPUs (--jobs unused); --out on a file system every node shares."),
) -> None:
    """Run the grid of N x D x PL mixtures, one tiny pretraining per job; records held-out loss per PL."""
    from xpl.experiments.sweep import expand, finished, load_sweep, parse_shard, run_sweep, shard as take_shard
    from xpl.corpus import CorpusError
    from xpl.execution.cluster import ClusterUnavailable
    from xpl.languages import UnknownLanguage
    from xpl.training.common import ConfigError, limit_threads

    limit_threads()
    if jobs < 1:
        _fail(f"--jobs must be at least 1, got {jobs}")
    try:
        cfg = load_sweep(config)
        index, count = parse_shard(shard)
        todo = take_shard(expand(cfg), index, count)
        status = {j.id: finished(out, j) is not None for j in todo}
    except (ConfigError, UnknownLanguage, CorpusError) as exc:
        _fail(str(exc))
    if list_only:
        for j in todo:
            console.print(f"{j.id}\t{'done' if status[j.id] else 'todo'}", markup=False, highlight=False)
        console.print(f"{sum(status.values())} of {len(todo)} jobs finished (shard {index}/{count})")
        return
    with _progress() as bar:
        overall = bar.add_task(f"sweep (shard {index}/{count}, {'on Ray' if ray is not None else f'{jobs} at a time'})", total=len(todo))
        current: dict[str, int] = {}

        def on_job(job, record, state) -> None:
            if state in ("done", "skipped"):
                bar.advance(overall)
                if job.id in current:
                    bar.remove_task(current.pop(job.id))

        def on_step(job, step: int, total: int) -> None:
            if job.id not in current:
                current[job.id] = bar.add_task(f"  {job.id}", total=total or None)
            bar.update(current[job.id], completed=step, total=total or None)

        try:
            records = run_sweep(cfg, out, todo, workers=jobs, threads=threads, on_job=on_job, on_step=on_step, ray=ray)
        except (ConfigError, UnknownLanguage, CorpusError, ClusterUnavailable) as exc:
            _fail(str(exc))
        except FileNotFoundError as exc:
            if ray is None:
                raise
            _fail(str(exc))
    trained = len(todo) - sum(status.values())
    console.print(f"{len(records)} jobs finished ({trained} trained now, {len(todo) - trained} already done) in {out}/jobs/")


@scaling_app.command("fit")
def scaling_fit(
    sweeps: list[Path] = typer.Argument(..., help="Sweep folder(s) (shards of one sweep may be given separately)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Where fit.json, report.md and the plots go (default: FIRST/fit)."),
    bootstrap: int = typer.Option(200, "--bootstrap", help="Bootstrap refits for the confidence intervals."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
) -> None:
    """Fit the per-PL laws, the synergy matrix and the proportion law on a sweep's runs; plots."""
    from xpl.analysis.scaling import ScalingError
    from xpl.analysis.scaling_report import fit_sweep
    from xpl.experiments.sweep import results
    from xpl.training.common import ConfigError

    if bootstrap < 0:
        _fail(f"--bootstrap must be >= 0, got {bootstrap}")
    target = out or sweeps[0] / "fit"
    try:
        records = results(sweeps)
    except ConfigError as exc:
        _fail(str(exc))
    if not records:
        _fail(f"no finished runs in {', '.join(map(str, sweeps))} (run `xpl scaling sweep` first)")
    with _progress() as bar:
        task = bar.add_task("fitting", total=None)
        try:
            fit_sweep(records, target, bootstrap, seed, progress=lambda what: bar.update(task, description=f"fitting: {what} done"))
        except ScalingError as exc:
            _fail(str(exc))
    console.print((target / "report.md").read_text().split("\n![")[0], markup=False, highlight=False, soft_wrap=True)
    console.print(f"wrote {target / 'fit.json'}, {target / 'report.md'} and plots to {target}/")


@scaling_app.command("allocate")
def scaling_allocate(
    fit: Path = typer.Option(..., "--fit", help="fit.json from `xpl scaling fit`."),
    sweep: Path = typer.Option(..., "--sweep", help="The sweep folder (N and D of the cell are read from its runs; measured runs are looked up there)."),
    size: str = typer.Option(..., "--size", help="Model size name of the sweep (e.g. n4)."),
    budget: int = typer.Option(..., "--budget", help="Budget of the sweep in characters (e.g. 400000)."),
    weights: str = typer.Option("", "--weights", help="Objective weights per PL, e.g. python=1,rust=2 (default: the average over PLs)."),
    floor: float = typer.Option(0.02, "--floor", help="Smallest share any PL gets."),
    name: str = typer.Option("alloc", "--name", help="Mixture name of the allocation run."),
    seeds: str = typer.Option("0", "--seeds", help="Comma-separated training seeds of the allocation and uniform runs (measured: their mean)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder (default: next to fit.json)."),
) -> None:
    """The proportions minimising the predicted (weighted) average loss at one size and budget, vs uniform."""
    from xpl.analysis.scaling import ScalingError
    from xpl.experiments.allocation import allocation_study
    from xpl.training.common import ConfigError

    w = {}
    for part in filter(None, (x.strip() for x in weights.split(","))):
        key, _, value = part.partition("=")
        try:
            w[key.strip()] = float(value)
        except ValueError:
            _fail(f"--weights: expected PL=number, got {part!r}")
    try:
        seed_list = [int(x) for x in seeds.split(",") if x.strip()]
    except ValueError:
        _fail(f"--seeds: expected comma-separated integers, got {seeds!r}")
    target = out or fit.parent / f"allocation-{size}-d{budget}"
    try:
        result = allocation_study(fit, sweep, size, budget, target, name, w or None, floor, seed_list or [0])
    except (ScalingError, ConfigError) as exc:
        _fail(str(exc))
    table = Table(title=f"allocation at N={int(result['N']):,}, D={int(result['D']):,} tokens")
    table.add_column("PL")
    for col in ("uniform share", "allocated share", "predicted loss (uniform)", "predicted loss (allocated)"):
        table.add_column(col, justify="right")
    measured = result["measured"]
    for key in ("uniform", "allocation"):
        if key in measured:
            table.add_column(f"measured loss ({key}, {measured[key]['run']})", justify="right")
    for k in result["proportions"]:
        row = [k, f"{result['uniform']['proportions'][k]:.3f}", f"{result['proportions'][k]:.3f}", f"{result['uniform']['predicted'][k]:.4f}", f"{result['predicted'][k]:.4f}"]
        row += [f"{measured[key]['loss'].get(k, float('nan')):.4f}" for key in ("uniform", "allocation") if key in measured]
        table.add_row(*row)
    row = ["objective", "", "", f"{result['uniform']['objective']:.4f}", f"{result['objective']:.4f}"]
    row += [f"{measured[key]['objective']:.4f}" for key in ("uniform", "allocation") if key in measured]
    table.add_row(*row)
    console.print(table)
    if len(measured) < 2:
        console.print(f"to measure it: xpl scaling sweep {target / 'allocation.yaml'} --out {sweep}, then rerun this command")
    console.print(f"wrote {target / 'allocation.json'}, {target / 'allocation.png'}, {target / 'allocation.yaml'}")


def _first_sentence(doc: str) -> str:
    """A docstring's first sentence on one line, for the command lists of ``--help`` (typer
    prints the whole first paragraph there with the docstring's line breaks)."""
    paragraph = " ".join(doc.strip().split("\n\n", 1)[0].split())
    end = re.search(r"\.(\s+[A-Z(`]|$)", paragraph)  # not at "e.g. verl"
    return (paragraph[: end.start() + 1] if end else paragraph).replace("``", "`")


def _set_short_helps(group: typer.Typer) -> None:
    for info in group.registered_commands:
        if info.short_help is None and info.callback is not None and info.callback.__doc__:
            info.short_help = _first_sentence(inspect.getdoc(info.callback) or "")
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            _set_short_helps(sub.typer_instance)


_set_short_helps(app)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
