"""Reading the harness protocol in PL tests that run programs outside the engine."""


def markers(stdout: str, nonce: str = "-") -> list[str]:
    """The outcome of each protocol line for ``nonce``: "pass", "fail", "error" or "done"."""
    return [ln.split()[-1] for ln in stdout.splitlines() if ln.startswith(f"@@xpl {nonce} ")]
