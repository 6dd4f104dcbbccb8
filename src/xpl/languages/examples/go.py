"""Go example bodies: the conformance suite (tests/languages/test_conformance.py) and `xpl demo`."""

SNIPPETS = {
    # add(a int, b int) int
    "add": "\treturn a + b\n",
    "add_wrong": "\treturn a - b\n",
    # a type error: adding a string to an int
    "broken": '\treturn a + "b"\n',
    # identity(x T) T for every T in the suite
    "identity": "\treturn x\n",
    # scale(x float64) float64: inside the tolerance
    "scale_close": "\treturn x * (1 + 1e-9)\n",
    # scale(x float64) float64: outside the tolerance
    "scale_far": "\treturn x + 0.1\n",
    # panics when a == 0, else a + b
    "raise_on_zero": '\tif a == 0 {\n\t\tpanic("zero")\n\t}\n\treturn a + b\n',
}
