"""Reading the harness protocol in PL tests that run programs outside the engine."""


def markers(stdout: str, nonce: str = "-") -> list[str]:
    """The outcome of each protocol line for ``nonce``: "pass", "fail", "error" or "done"."""
    return [ln.split()[-1] for ln in stdout.splitlines() if ln.startswith(f"@@xpl {nonce} ")]


def round_trip_in_one_batch(lang, cases, param: str, body: str, tmp) -> list[str]:
    """identity(<param>: T) -> T for every (annotation, values) case, built as ONE batch of the
    PL (unsandboxed) and run; returns the cases whose values did not all come back."""
    from xpl.execution.baseline import build_plan, run_built
    from xpl.languages.types import Signature, TestCase

    programs = []
    for annotation, values in cases:
        sig = Signature.parse("identity", [(param, annotation)], annotation)
        tests = [TestCase((v,), v) for v in values]
        for t in tests:
            t.check(sig)
        programs.append((annotation, lang.check_program(sig, "Return the argument.", body, tests), len(tests)))
    plan = lang.plan_batch([p for _, p, _ in programs], lang.toolchain)
    built = build_plan(plan, tmp)
    if built.returncode != 0:
        return [f"batch did not build: {built.stderr[-3000:]}"]
    bad = []
    for i, (annotation, _, n) in enumerate(programs):
        proc = run_built(lang.name, plan, i, tmp)
        if (proc.returncode, markers(proc.stdout).count("pass")) != (0, n):
            bad.append(f"{annotation}: exit {proc.returncode}\n{proc.stdout}")
    return bad
