"""Rust example bodies: the conformance suite (tests/languages/test_conformance.py) and `xpl demo`."""

SNIPPETS = {
    # add(a: i64, b: i64) -> i64
    "add": "    a + b\n",
    "add_wrong": "    a - b\n",
    # a type error: adding a string slice to an i64
    "broken": '    a + "b"\n',
    # identity(x: T) -> T for every T in the suite
    "identity": "    x\n",
    # scale(x: f64) -> f64: inside the tolerance
    "scale_close": "    x * (1.0 + 1e-9)\n",
    # scale(x: f64) -> f64: outside the tolerance
    "scale_far": "    x + 0.1\n",
    # panics when a == 0, else a + b
    "raise_on_zero": '    if a == 0 {\n        panic!("zero");\n    }\n    a + b\n',
}
