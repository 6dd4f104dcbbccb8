"""Java bodies for the shared language conformance suite (see tests/languages/test_conformance.py)."""

SNIPPETS = {
    # add(a: int, b: int) -> int
    "add": "        return a + b;\n",
    "add_wrong": "        return a - b;\n",
    # a body that does not parse / type-check
    "broken": "        return a +* b;\n",
    # identity(x: T) -> T for every T in the suite
    "identity": "        return x;\n",
    # scale(x: float) -> float: returns x * (1 + 1e-9) (inside tolerance)
    "scale_close": "        return x * (1 + 1e-9);\n",
    # scale(x: float) -> float: returns x + 0.1 (outside tolerance)
    "scale_far": "        return x + 0.1;\n",
    # add(a, b) that raises/throws/panics when a == 0, else a + b
    "raise_on_zero": (
        "        if (a == 0) {\n"
        '            throw new IllegalArgumentException("zero");\n'
        "        }\n"
        "        return a + b;\n"
    ),
}
