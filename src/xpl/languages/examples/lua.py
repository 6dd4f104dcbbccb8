"""Lua bodies for the shared language conformance suite (see tests/languages/test_conformance.py).

As in MultiPL-E, a Lua completion ends with the function's own `end`.
"""

SNIPPETS = {
    # local function add(a, b)
    "add": "    return a + b\nend\n",
    "add_wrong": "    return a - b\nend\n",
    # does not parse
    "broken": "    return a +* b\nend\n",
    # local function identity(x)
    "identity": "    return x\nend\n",
    # local function scale(x)
    "scale_close": "    return x * (1 + 1e-9)\nend\n",
    "scale_far": "    return x + 0.1\nend\n",
    "raise_on_zero": '    if a == 0 then\n        error("zero")\n    end\n    return a + b\nend\n',
}
