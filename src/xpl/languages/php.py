"""PHP 8 (the CLI interpreter).

Problems are written the MultiPL-E way: an untyped ``function name($a, $b) {`` after the
docstring as ``//`` comments. PHP has one container, the array: lists and tuples are arrays
with keys ``0..n-1``, dicts are arrays with the dict's keys, ``None`` is ``null``.

Programs run as ``php -d display_errors=stderr -d log_errors=0 -d memory_limit=-1
-d zend.assertions=1 main.php``:

* errors are *displayed* on stderr and not also *logged* (the CLI logs to stderr too, which
  would print every message twice), whatever the host's php.ini says;
* PHP's own heap cap is off: the engine limits memory with RLIMIT_DATA, and a hog then dies
  with ``Out of memory`` (``mmap() failed``) instead of a php.ini-dependent
  ``Allowed memory size ... exhausted`` (both are recognised);
* ``assert()`` is executed, as in every other PL (Debian's CLI php.ini compiles it out).

The toolchain counts as installed only with the mbstring extension (Debian: ``php-mbstring``),
which the reference environment has and model-written PHP uses (``mb_strlen``, ``mb_str_split``).

Parse errors are reported before anything runs (PHP compiles the whole file first), so a
``Parse error`` in the output means the program never started.

Known limits of the encoding, inherent to PHP arrays: a ``str`` dict key that is a decimal
integer (``"7"``) becomes the int key ``7``; dict keys other than ``int``/``str`` are not
supported (PHP would silently truncate floats and turn bools and null into ints/strings).
A function named like one of PHP's built-in functions (HumanEval/23's ``strlen``) could not
be declared ("Cannot redeclare strlen()"; MultiPL-E's PHP loses that problem): like a keyword,
such a name gets a ``_`` suffix in the prompt and the harness (``strlen_``). The built-in
names are the installed PHP's ``get_defined_functions()["internal"]``, stored in
``data/php_functions.txt`` (how it was produced is written at its top).
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any, Sequence

from xpl.languages.base import (
    BUILD,
    BuildPlan,
    Language,
    RunSpec,
    Toolchain,
    ToolchainMissing,
    _command_output,
    escape_string,
)
from xpl.languages.types import (
    AnyType,
    INT_MIN,
    BoolType,
    DictType,
    FloatType,
    IntType,
    ListType,
    NoneType,
    OptionalType,
    Signature,
    StrType,
    TestCase,
    TupleType,
    Type,
    UnionType,
    dynamic_type,
    union_member,
)

# Words that cannot name a function (PHP keywords are case-insensitive).
_KEYWORDS = frozenset(
    "__halt_compiler abstract and array as break callable case catch class clone const continue "
    "declare default die do echo else elseif empty enddeclare endfor endforeach endif endswitch "
    "endwhile enum eval exit extends final finally fn for foreach function global goto if "
    "implements include include_once instanceof insteadof interface isset list match namespace "
    "new or print private protected public readonly require require_once return static switch "
    "throw trait try unset use var while xor yield".split()
)


@cache
def internal_functions() -> frozenset[str]:
    """PHP's built-in function names, lowercase (function names are case-insensitive), read
    once from the package data."""
    text = (resources.files("xpl.languages") / "data" / "php_functions.txt").read_text(encoding="utf-8")
    return frozenset(ln.strip().lower() for ln in text.splitlines() if ln.strip() and not ln.startswith("#"))


# Variables that cannot be parameters ("Cannot use $this as parameter", "Cannot re-assign
# auto-global variable"). Any other name, keywords included, is a legal ``$name``.
_SPECIAL_VARIABLES = frozenset(
    "this GLOBALS _SERVER _GET _POST _FILES _COOKIE _SESSION _REQUEST _ENV".split()
)

RUN_FLAGS = ("-d", "display_errors=stderr", "-d", "log_errors=0", "-d", "memory_limit=-1", "-d", "zend.assertions=1")

# Deep equality mirroring ``xpl.languages.types.values_equal``. Arrays are compared by key
# (order-insensitive, like Python dicts): a list is equal to an array only if it has the same
# keys 0..n-1, so a filtered array with holes (array_filter without array_values) is not
# equal to the list it would print as, as in MultiPL-E's strict ``===`` comparison.
_HARNESS_PRELUDE = r"""
function __xpl_close(float $a, float $b): bool
{
    if (is_nan($a) || is_nan($b)) {
        return is_nan($a) && is_nan($b);
    }
    if (is_infinite($a) || is_infinite($b)) {
        return $a == $b;
    }
    return abs($a - $b) <= max(1e-6 * max(abs($a), abs($b)), 1e-9);
}

function __xpl_equal($a, $b): bool
{
    if (is_float($a) || is_float($b)) {
        // is_int() is false for booleans, so true never equals 1.0
        return (is_int($a) || is_float($a)) && (is_int($b) || is_float($b))
            && __xpl_close((float) $a, (float) $b);
    }
    if (is_array($a) && is_array($b)) {
        if (count($a) !== count($b)) {
            return false;
        }
        foreach ($a as $key => $value) {
            if (!array_key_exists($key, $b) || !__xpl_equal($value, $b[$key])) {
                return false;
            }
        }
        return true;
    }
    return $a === $b;
}

// One line, so that no value can start a line of stderr that reads like one of PHP's own
// fatal errors. JSON shows arrays with holes as objects; it cannot encode NAN, INF or
// invalid UTF-8, which var_export can.
function __xpl_show($value): string
{
    $json = json_encode($value, JSON_PRESERVE_ZERO_FRACTION | JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES);
    if ($json !== false) {
        return $json;
    }
    return preg_replace('/\s*\n\s*/', ' ', var_export($value, true));
}

function __xpl_run(string $candidate, array $tests): void
{
    $nonce = getenv('XPL_NONCE');
    if ($nonce === false) {
        $nonce = '-';
    }
    $failed = 0;
    foreach ($tests as $i => [$args, $expected]) {
        try {
            $actual = $candidate(...$args);
            $outcome = __xpl_equal($actual, $expected) ? 'pass' : 'fail';
            if ($outcome === 'fail') {
                fwrite(STDERR, "test $i: expected " . __xpl_show($expected) . ', got ' . __xpl_show($actual) . "\n");
            }
        } catch (\Throwable $e) {
            fwrite(STDERR, "test $i: " . get_class($e) . ': ' . str_replace("\n", '\n', $e->getMessage()) . "\n");
            $outcome = 'error';
        }
        if ($outcome !== 'pass') {
            $failed++;
        }
        echo "\n@@xpl $nonce $i $outcome\n";
        flush();
    }
    echo "\n@@xpl $nonce done\n";
    flush();
    exit($failed > 0 ? 1 : 0);
}
"""


# The harness of the value protocol: each result written as JSON by a closure that
# ``PHP._encoder`` composes per type, accepting what ``__xpl_equal`` above would compare equal
# to a value of that type: an int and a float are numbers to each other, a list or tuple is an
# array with the keys 0..n-1 (in any order), dict keys are PHP's int or string keys. Anything
# else is written as {"invalid": ...}. String bytes are written as they are apart from quotes,
# backslashes and control characters (json_encode would refuse invalid UTF-8).
_VALUE_PRELUDE = r"""
function __xpl_invalid($v): string
{
    return '{"invalid":"' . gettype($v) . '"}';
}

function __xpl_number(): Closure
{
    return function ($v): string {
        if (is_int($v)) {
            return (string) $v;
        }
        if (!is_float($v)) {
            return __xpl_invalid($v);
        }
        if (is_nan($v)) {
            return '"nan"';
        }
        if (is_infinite($v)) {
            return $v > 0 ? '"inf"' : '"-inf"';
        }
        return json_encode($v, JSON_PRESERVE_ZERO_FRACTION);
    };
}

function __xpl_bool(): Closure
{
    return fn ($v): string => is_bool($v) ? ($v ? 'true' : 'false') : __xpl_invalid($v);
}

function __xpl_quote(string $s): string
{
    return '"' . preg_replace_callback('/[\x00-\x1f"\\\\]/', fn ($m) => sprintf('\u%04x', ord($m[0])), $s) . '"';
}

function __xpl_string(): Closure
{
    return fn ($v): string => is_string($v) ? __xpl_quote($v) : __xpl_invalid($v);
}

function __xpl_null(): Closure
{
    return fn ($v): string => $v === null ? 'null' : __xpl_invalid($v);
}

function __xpl_optional(Closure $inner): Closure
{
    return fn ($v): string => $v === null ? 'null' : $inner($v);
}

function __xpl_is_list($v, int $n): bool
{
    if (!is_array($v) || count($v) !== $n) {
        return false;
    }
    for ($i = 0; $i < $n; $i++) {
        if (!array_key_exists($i, $v)) {
            return false;
        }
    }
    return true;
}

function __xpl_list(Closure $elem): Closure
{
    return function ($v) use ($elem): string {
        if (!is_array($v) || !__xpl_is_list($v, count($v))) {
            return __xpl_invalid($v);
        }
        $items = [];
        for ($i = 0; $i < count($v); $i++) {
            $items[] = $elem($v[$i]);
        }
        return '[' . implode(',', $items) . ']';
    };
}

function __xpl_tuple(Closure ...$elems): Closure
{
    return function ($v) use ($elems): string {
        if (!__xpl_is_list($v, count($elems))) {
            return __xpl_invalid($v);
        }
        $items = [];
        foreach ($elems as $i => $elem) {
            $items[] = $elem($v[$i]);
        }
        return '[' . implode(',', $items) . ']';
    };
}

// Array keys are ints or strings ("1" is stored as 1): a str key is written as a string.
function __xpl_dict(bool $string_keys, Closure $key, Closure $value): Closure
{
    return function ($v) use ($string_keys, $key, $value): string {
        if (!is_array($v)) {
            return __xpl_invalid($v);
        }
        $pairs = [];
        foreach ($v as $k => $x) {
            $pairs[] = '[' . $key($string_keys ? (string) $k : $k) . ',' . $value($x) . ']';
        }
        return '[' . implode(',', $pairs) . ']';
    };
}

// The first member that takes the value (a JSON object is only ever {"invalid": ...}).
function __xpl_union(Closure ...$members): Closure
{
    return function ($v) use ($members): string {
        foreach ($members as $member) {
            $out = $member($v);
            if ($out[0] !== '{') {
                return $out;
            }
        }
        return __xpl_invalid($v);
    };
}

function __xpl_report(string $candidate, Closure $encode, array $tests): void
{
    $nonce = getenv('XPL_NONCE');
    if ($nonce === false) {
        $nonce = '-';
    }
    foreach ($tests as $i => $args) {
        try {
            $line = 'value ' . $encode($candidate(...$args));
        } catch (\Throwable $e) {
            fwrite(STDERR, "test $i: " . get_class($e) . ': ' . str_replace("\n", '\n', $e->getMessage()) . "\n");
            $line = 'error';
        }
        echo "\n@@xpl $nonce $i $line\n";
        flush();
    }
    echo "\n@@xpl $nonce done\n";
    flush();
    exit(0);
}
"""


class PHP(Language):
    name = "php"
    display_name = "PHP"
    aliases = ("php",)
    extension = "php"
    tools = (("php", ("php", "php8.2", "php8.3", "php8.1"), ("--version",)),)
    apt_packages = ("php-cli", "php-mbstring")  # Debian's CLI package lacks mbstring
    syntax_error_patterns = (r"^(PHP )?Parse error: ",)
    assertion_patterns = (
        r"Uncaught AssertionError\b",
        r"Uncaught Exception: Test failed!",  # MultiPL-E's PHP test suites
    )
    memory_error_patterns = (
        r"Allowed memory size of \d+ bytes exhausted",
        r"^(PHP )?(Fatal error: +)?Out of memory\b",
        r"^mmap\(\) failed: \[12\] Cannot allocate memory",
    )
    stop_sequences = ("\n}", "\nfunction ", "\n?>", "\n//", "\n#", "\necho ", "\nprint")
    completion_suffix = "}\n"
    return_template = "    return {};\n"
    comment_prefix = "//"
    reserved_words = _KEYWORDS
    scalar_type_names = {
        IntType: "int",
        FloatType: "float",
        BoolType: "bool",
        StrType: "string",
        NoneType: "null",
    }
    float_specials = ("NAN", "INF", "-INF")

    def refine_toolchain(self, paths: dict[str, str]) -> tuple[dict[str, str], list[str]]:
        # Model-written PHP calls mb_* functions all the time, and the reference environment
        # (MultiPL-E's PHP image) has mbstring; without it those programs would fail with
        # "Call to undefined function mb_strlen()", a fault of the machine, not the program.
        modules = _command_output([paths["php"], "-m"])
        if modules is None:
            raise ToolchainMissing(f"PHP: `{paths['php']} -m` failed")
        if "mbstring" not in modules.split():
            raise ToolchainMissing(
                "PHP: the mbstring extension is missing; install it with `apt-get install php-mbstring`"
            )
        return paths, []

    # ----------------------------------------------------------------- building
    def plan_single(self, source: str, tc: Toolchain) -> BuildPlan:
        run = RunSpec([tc.tool("php"), *RUN_FLAGS, f"{BUILD}/main.php"])
        return BuildPlan({"main.php": source}, [], [run], {"main.php": 0})

    # ----------------------------------------------------------------- rendering
    def identifier(self, name: str) -> str:
        """A function name PHP accepts: keywords and built-in functions get a ``_`` suffix."""
        lowered = name.lower()
        return name + "_" if lowered in _KEYWORDS or lowered in internal_functions() else name

    def variable(self, name: str) -> str:
        """``$name`` for a parameter; only the few special variables need renaming."""
        return "$" + (name + "_" if name in _SPECIAL_VARIABLES else name)

    def render_type(self, typ: Type) -> str:
        # PHP's own type declarations; the prompt stays untyped as in MultiPL-E, but this
        # decides what PHP can express (and reads well in diagnostics).
        scalar = self.scalar_type_name(typ)
        if scalar is not None:
            return scalar
        if isinstance(typ, (ListType, TupleType)):
            for t in typ.children():
                self.render_type(t)
            return "array"
        if isinstance(typ, DictType):
            if not isinstance(typ.key, (IntType, StrType)):
                raise self.unsupported(f"dict keys of type {typ.key.annotation()} (PHP array keys are int or string)")
            self.render_type(typ.value)
            return "array"
        if isinstance(typ, OptionalType):
            if isinstance(typ.inner, UnionType):
                return self.render_type(typ.inner) + "|null"  # PHP 8 writes no ?A|B
            return "?" + self.render_type(typ.inner)
        if isinstance(typ, UnionType):
            return "|".join(dict.fromkeys(self.render_type(m) for m in typ.members))
        if isinstance(typ, AnyType):
            return "mixed"
        raise self.unsupported(f"type {typ!r}")

    def render_value(self, value: Any, typ: Type) -> str:
        if value is None:
            return "null"
        if isinstance(typ, OptionalType):
            return self.render_value(value, typ.inner)
        if isinstance(typ, UnionType):
            return self.render_value(value, union_member(typ, value))
        if isinstance(typ, AnyType):
            return self.render_value(value, dynamic_type(value))
        if isinstance(typ, FloatType):
            return self.float_literal(value)  # always has a '.' or an exponent, so PHP reads a float
        if isinstance(typ, IntType):
            self.check_int(value)
            # -9223372036854775808 is unary minus applied to a literal too big for int: a float
            return "PHP_INT_MIN" if value == INT_MIN else str(int(value))
        if isinstance(typ, BoolType):
            return "true" if value else "false"
        if isinstance(typ, StrType):
            return self.render_string(value)
        if isinstance(typ, ListType):
            return "[" + ", ".join(self.render_value(v, typ.elem) for v in value) + "]"
        if isinstance(typ, TupleType):
            return "[" + ", ".join(self.render_value(v, t) for v, t in zip(value, typ.elems)) + "]"
        if isinstance(typ, DictType):
            self.render_type(typ)
            items = (f"{self.render_value(k, typ.key)} => {self.render_value(v, typ.value)}" for k, v in value.items())
            return "[" + ", ".join(items) + "]"
        raise self.unsupported(f"value {value!r} of type {typ!r}")

    def render_string(self, s: str) -> str:
        """A double-quoted literal: ``\\$`` stops interpolation, ``\\u{..}`` spells the rest."""
        if any(0xD800 <= ord(ch) <= 0xDFFF for ch in s):
            raise self.unsupported("strings with lone surrogate code points")
        return escape_string(s, '"', extra={"$": "\\$"}, unicode="\\u{{{:x}}}")

    def comment(self, text: str, indent: str = "") -> str:
        # "?>" ends PHP mode even inside a // comment; the rest of the line would be output.
        return super().comment(text.replace("?>", "? >"), indent)

    def split_reply(self, code: str, sig: Signature) -> tuple[list[str], str]:
        # The header opens PHP mode: the reply's own open and close tags go.
        return [], re.sub(r"<\?php\b|\?>\s*$", "", code)

    def prompt(self, sig: Signature, docstring: str) -> str:
        params = ", ".join(self.variable(p.name) for p in sig.params)
        doc = self.comment(docstring) if docstring.strip() else ""
        return f"<?php\n{doc}function {self.identifier(sig.name)}({params}) {{\n"

    def harness(self, sig: Signature, tests: Sequence[TestCase]) -> str:
        self.refuse_any_result(sig)
        rows = []
        for t in tests:
            args = ", ".join(self.render_value(a, p.type) for a, p in zip(t.args, sig.params))
            rows.append(f"    [{args}],\n")
        return (
            _VALUE_PRELUDE
            + f"\n__xpl_report({self.render_string(self.identifier(sig.name))}, {self._encoder(sig.returns)}, [\n"
            + "".join(rows)
            + "]);\n"
        )

    def _encoder(self, typ: Type) -> str:
        """A PHP expression: the closure writing a result of type ``typ`` as JSON."""
        if isinstance(typ, (IntType, FloatType)):
            return "__xpl_number()"
        if isinstance(typ, BoolType):
            return "__xpl_bool()"
        if isinstance(typ, StrType):
            return "__xpl_string()"
        if isinstance(typ, NoneType):
            return "__xpl_null()"
        if isinstance(typ, OptionalType):
            return f"__xpl_optional({self._encoder(typ.inner)})"
        if isinstance(typ, ListType):
            return f"__xpl_list({self._encoder(typ.elem)})"
        if isinstance(typ, TupleType):
            return "__xpl_tuple(" + ", ".join(self._encoder(e) for e in typ.elems) + ")"
        if isinstance(typ, DictType):
            strings = "true" if isinstance(typ.key, StrType) else "false"
            return f"__xpl_dict({strings}, {self._encoder(typ.key)}, {self._encoder(typ.value)})"
        if isinstance(typ, UnionType):
            return "__xpl_union(" + ", ".join(self._encoder(m) for m in typ.members) + ")"
        raise self.unsupported(f"type {typ!r} as a result")

    def check_harness(self, sig: Signature, tests: Sequence[TestCase]) -> str:
        self.refuse_any_result(sig)
        rows = []
        for t in tests:
            args = ", ".join(self.render_value(a, p.type) for a, p in zip(t.args, sig.params))
            rows.append(f"    [[{args}], {self.render_value(t.expected, sig.returns)}],\n")
        return (
            _HARNESS_PRELUDE
            + f"\n__xpl_run({self.render_string(self.identifier(sig.name))}, [\n"
            + "".join(rows)
            + "]);\n"
        )
