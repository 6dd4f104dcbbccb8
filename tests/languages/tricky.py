"""Values that break naive literal rendering, shared by every PL's tests.

``STRINGS`` and ``CASES`` are what every PL must round-trip (the conformance suite runs them
through the engine for all PLs); PL test modules add their own extras on top (e.g. ``$$`` for
PHP, ``#@a`` for Ruby, ``\\\\u0041`` for Java, whose lexer reads unicode escapes in comments).
"""

import math

from xpl.languages.types import INT_MAX, INT_MIN

STRINGS = [
    "",
    "\x00",
    "a\x00b",
    "\x01" + "7",  # an octal escape followed by a digit
    "\x1b[0m",
    "\x7f",
    "a\rb",
    "\r\n",
    "\t\x0b\x0c",
    "\\n",
    "\\",
    "a\\",
    "\\u0041",
    "\\x41",
    "'",
    '"',
    "{}",
    "{0}",
    "{{",
    "%s%d",
    "$a",
    "${a}",
    "#{a}",
    "é",
    "e\u0301",
    "\u2028\u0085",
    "\ufeff",
    "😀𝄞",
]

FLOATS = [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308, 1e-7, 0.1, 1e16, 2.0]

# (annotation, values): each value must round-trip through identity(x: T) -> T.
CASES = [
    ("str", STRINGS),
    ("int", [INT_MAX, INT_MIN, -1, 0, 2**31, -(2**31) - 1]),
    ("float", FLOATS),
    ("List[int]", [[INT_MIN, INT_MAX], []]),
    ("List[List[int]]", [[[1]], [[]], [[1, 2]], []]),
    ("List[Optional[float]]", [[None, 1.5, math.nan], []]),
    ("Dict[Tuple[int, str], List[float]]", [{(1, "a"): [0.5], (INT_MIN, ""): []}, {}]),
    ("Dict[int, str]", [{0: "a", -5: "$b", INT_MIN: ""}, {}]),
    ("Dict[str, Dict[int, bool]]", [{"a": {1: True}, "b": {}}]),
    ("Optional[List[Tuple[int, Optional[str]]]]", [None, [], [(1, None), (2, "x")]]),
    ("Tuple[str, Tuple[int, bool], List[float]]", [("a", (1, False), [0.5]), ("", (0, True), [])]),
    ("Tuple[int]", [(7,)]),
]
