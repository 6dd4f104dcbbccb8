"""C++ bodies for the shared language conformance suite (see tests/languages/test_conformance.py)."""

SNIPPETS = {
    # long add(long a, long b) {
    "add": "    return a + b;\n",
    "add_wrong": "    return a - b;\n",
    # dereferences a long: a type error
    "broken": "    return a +* b;\n",
    # T identity(T x) {
    "identity": "    return x;\n",
    # double scale(double x) {
    "scale_close": "    return x * (1 + 1e-9);\n",
    "scale_far": "    return x + 0.1;\n",
    "raise_on_zero": '    if (a == 0) {\n        throw std::invalid_argument("zero");\n    }\n    return a + b;\n',
}
