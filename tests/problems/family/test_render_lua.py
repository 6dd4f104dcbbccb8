"""Family IR -> Lua 5.4: exact rendering of tricky trees (1-based indices, `not`, `..`, `~=`,
int/float subtypes), and generated problems run through the engine and through a strict
harness that also checks every number's subtype."""

import subprocess

import pytest

from tests.problems.family.render_helpers import (
    a,
    assert_all_pass,
    b,
    body_renderer,
    ch,
    num,
    s,
    shared_expressions,
    shifted_indices,
    text,
    vowel_filter,
    word_lengths,
)
from xpl.languages import get_language
from xpl.languages.types import BOOL, FLOAT, INT, STR
from xpl.problems.family.generator import generate
from xpl.problems.family.ir import (
    FLOAT_LIST,
    INT_LIST,
    STR_LIST,
    WORD_COUNTS,
    Assign,
    AugAssign,
    Bin,
    CharIn,
    Concat,
    ForEach,
    If,
    Len,
    Let,
    Lit,
    Neg,
    Not,
    Return,
    ToFloat,
    ToLower,
    ToUpper,
    Var,
)
from xpl.problems.family.render import renderer_for

body = body_renderer("lua")


@pytest.mark.parametrize(
    "expr, text",
    shared_expressions(
        ["(a + 1) * b - (b - -c)", "a - -3", "not (((a + b) % 3 == 0 or a > 2) and b < c)"],
        {
            "-(-a)": "-(-a)",  # never `--`, a comment
            "a % 2 != 0": "a % 2 ~= 0",
        },
    ),
)
def test_shared_expressions_and_the_closing_end(expr, text):
    assert body(expr.type, Return(expr)) == f"    return {text}\nend\n"


def test_not_is_a_unary_operator_in_lua():
    assert body(INT, Return(Neg(Len(s))), params=(("s", STR),)) == "    return -(#s)\nend\n"
    found = Var("found", BOOL)
    got = body(BOOL, Let("found", BOOL, Lit(False, BOOL)), Return(Bin("or", Not(found), Bin("!=", a, b))))
    assert got == "    local found = false\n    return not found or a ~= b\nend\n"
    assert body(BOOL, Return(Not(Bin("==", a, b)))) == "    return not (a == b)\nend\n"


def test_indices_and_ranges_are_translated_to_one_based():
    got = body(INT, *shifted_indices(), Return(Var("t", INT)), params=(("xs", INT_LIST), ("k", INT)))
    assert got == (
        "    local t = 0\n"
        "    for i = 0, #xs - 1 do\n"
        "        if xs[i + 1] > 0 then\n"
        "            t = t + xs[i]\n"
        "        elseif xs[i + 1] < 0 then\n"
        "            t = t - xs[1]\n"
        "        else\n"
        "            t = xs[i + 3]\n"
        "        end\n"
        "    end\n"
        "    for j = k + 1, #xs do\n"
        "        t = t * (j + xs[j * 2 + 1])\n"
        "    end\n"
        "    return t\n"
        "end\n"
    )


def test_strings_lists_and_dicts():
    got = body(
        STR,
        *vowel_filter("%."),
        AugAssign("out", "+", Concat(text("re"), ToLower(Concat(s, s)))),
        Return(Concat(ToUpper(text("ab")), Var("out", STR))),
        params=(("s", STR),),
    )
    assert got == (
        '    local out = ""\n'
        '    for ch in s:gmatch(".") do\n'
        '        if string.find("aeiou", ch, 1, true) ~= nil then\n'
        "            out = out .. ch:upper()\n"
        '        elseif string.find("%.", ch, 1, true) == nil then\n'
        "            out = out .. ch\n"
        "        end\n"
        "    end\n"
        '    out = out .. "re" .. (s .. s):lower()\n'
        '    return ("ab"):upper() .. out\n'
        "end\n"
    )
    got = body(WORD_COUNTS, *word_lengths(), params=(("words", STR_LIST),))
    assert got == (
        "    local d = {}\n"
        "    local lens = {}\n"
        "    for _, w in ipairs(words) do\n"
        "        d[w] = (d[w] or 0) + (#w + 1)\n"
        "        lens[#lens + 1] = #w * 2\n"
        "    end\n"
        "    return d\n"
        "end\n"
    )


def test_floats_returns_and_shadowed_globals():
    values = Var("values", FLOAT_LIST)
    got = body(
        FLOAT,
        Return(Bin("/", Lit(1.0, FLOAT), ToFloat(Bin("+", Len(values), num(1))))),
        params=(("values", FLOAT_LIST),),
    )
    assert got == "    return 1.0 / (#values + 1 + 0.0)\nend\n"
    # `return` must end its block in Lua.
    assert body(INT, Return(a), Assign("a", b), Return(b)) == "    do return a end\n    a = b\n    return b\nend\n"
    # A parameter named like a global the body calls does not break the call.
    string, ipairs = Var("string", STR), Var("ipairs", INT_LIST)
    got = body(
        BOOL,
        ForEach("x", ipairs, ()),
        ForEach("ch", string, (If(CharIn(ch, "a"), (Return(Lit(True, BOOL)),)),)),
        Return(Lit(False, BOOL)),
        params=(("string", STR), ("ipairs", INT_LIST)),
    )
    assert got == (
        "    for _, x in _G.ipairs(ipairs) do\n"
        "    end\n"
        '    for ch in string:gmatch(".") do\n'
        '        if _G.string.find("a", ch, 1, true) ~= nil then\n'
        "            return true\n"
        "        end\n"
        "    end\n"
        "    return false\n"
        "end\n"
    )


def lua_tool():
    lang = get_language("lua")
    if not lang.toolchain.available:
        pytest.skip("no lua5.4 toolchain: " + lang.toolchain.problem)
    return lang, lang.toolchain.tool("lua")


def test_generated_problems_pass_in_lua(engine):
    assert_all_pass("lua", generate(40, seed=3), engine)


# The engine's harness compares an integer and a float numerically (as Python's does), so it
# cannot see an `int` result where the IR returns a float. This one can: numbers must have the
# same subtype, tables the same keys.
STRICT = r"""
local function same(a, b)
  if type(a) ~= type(b) or math.type(a) ~= math.type(b) then return false end
  if math.type(a) == "float" then return math.abs(a - b) <= 1e-9 * math.max(1, math.abs(a), math.abs(b)) end
  if type(a) ~= "table" then return a == b end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end
local function check(name, i, got, expected)
  if not same(got, expected) then print("MISMATCH " .. name .. " test " .. i) end
end
"""


def test_generated_problems_keep_lua_number_subtypes():
    lang, lua = lua_tool()
    chunks = [STRICT]
    items = generate(120, seed=4)
    for item in items:
        p, fn = item.problem, item.fn
        calls = "".join(
            f"    check({p.name!r}, {k}, {fn.name}({', '.join(lang.render_value(x, q.type) for x, q in zip(t.args, p.signature.params))}),"
            f" {lang.render_value(t.expected, p.signature.returns)})\n"
            for k, t in enumerate(p.tests)
        )
        # each problem in its own block, so that every `local function` stays local to it
        chunks.append("do\n" + lang.prompt(p.signature, "") + renderer_for("lua").body(fn) + calls + "end\n")
    out = subprocess.run(
        [lua, "-"], input="".join(chunks) + 'print("DONE")\n', capture_output=True, text=True, timeout=60
    )
    assert out.stderr == "" and out.stdout == "DONE\n"
