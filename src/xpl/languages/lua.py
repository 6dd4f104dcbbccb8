"""Lua 5.4, MultiPL-E style.

Prompts are MultiPL-E's: the docstring as ``--`` comments, then ``local function name(a, b)``.
The model writes the body *and* the closing ``end`` (MultiPL-E's stop sequences only fire at
the start of the next top-level statement), so ``completion_suffix`` is empty.

Values: integers are Lua integers (64-bit), floats are Lua floats, lists and tuples are
sequences (``{1, 2}``, 1-based), dicts are tables with explicit keys (``{["a"] = 1}``), and
``None`` is ``nil``. A table cannot hold ``nil``: a list ``{1, nil, 3}`` has no well-defined
length and a dict entry whose value is ``nil`` does not exist, so an ``Optional`` (or ``None``)
inside a list, tuple or dict is unsupported; so are tuple keys, since tables are compared
by identity when used as keys. The harness compares values deeply with raw table access
(metatables are ignored); an integer and a float compare numerically, with the float
tolerance, as ``int`` and ``float`` do in Python.

Programs run as ``lua5.4 -E main.lua``: ``-E`` ignores ``LUA_INIT`` and ``LUA_PATH``, so the
host environment cannot change a result. Lua parses the whole file before running any of it;
a parse error is reported as ``lua5.4: main.lua:LINE: MESSAGE near TOKEN`` (or one of the
parser's few messages without a token), which ``syntax_error_patterns`` turn into
``compile_error``.
"""

from __future__ import annotations

import math
import re
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

_KEYWORDS = frozenset(
    "and break do else elseif end false for function goto if in local nil not or repeat return then true "
    "until while".split()
)
# `_ENV` is a legal name, but a parameter called so would change what every global means.
_RESERVED = _KEYWORDS | {"_ENV"}

# Lua's own parse errors: the lexer's and parser's messages name the offending token
# ("near 'x'", "near <eof>"); the few semantic checks of the parser do not. The interpreter
# prefixes them with its program name and the chunk's position; runtime errors carry the same
# prefix but other messages, and are followed by a stack traceback (which also tells apart an
# uncaught `error("... near 'x'")`).
_PARSER_MESSAGES = (
    r".* near (?:'.*'|<\w+>)",
    r"break outside (?:a )?loop at line \d+",
    r"no visible label '.*' for <goto> at line \d+",
    r"label '.*' already defined on line \d+",
    r"<goto .*> at line \d+ jumps into the scope of local '.*'",
    r"attempt to assign to const variable '.*'",
    r"unknown attribute '.*'",
    r"multiple to-be-closed variables in local list",
    r"too many .* \(limit is \d+\) in .*",
    r"function or expression needs too many registers",
    r"control structure too long",
    r"cannot use '\.\.\.' outside a vararg function",
)
_SYNTAX = r"^\S*lua[\w.-]*: .*:\d+: (?:" + "|".join(_PARSER_MESSAGES) + r")\s*$(?![\s\S]*^stack traceback:)"

# Deep equality mirroring ``xpl.languages.types.values_equal``, a printer for diagnostics, and
# the test driver. The standard functions are taken from _G first: the candidate's own local
# function may be called `type` or `next` and would otherwise shadow them here.
_HARNESS_PRELUDE = r"""
local xpl_type, xpl_next, xpl_pcall, xpl_tostring = _G.type, _G.next, _G.pcall, _G.tostring
local xpl_rawget, xpl_math, xpl_string, xpl_table = _G.rawget, _G.math, _G.string, _G.table
local xpl_stdout, xpl_stderr, xpl_exit = _G.io.stdout, _G.io.stderr, _G.os.exit
local xpl_nonce = _G.os.getenv("XPL_NONCE") or "-"
local xpl_failed = 0

local function xpl_close(a, b)
  a, b = a + 0.0, b + 0.0
  if a ~= a or b ~= b then
    return a ~= a and b ~= b
  end
  if a == xpl_math.huge or a == -xpl_math.huge or b == xpl_math.huge or b == -xpl_math.huge then
    return a == b
  end
  return xpl_math.abs(a - b) <= xpl_math.max(1e-6 * xpl_math.max(xpl_math.abs(a), xpl_math.abs(b)), 1e-9)
end

local function xpl_equal(a, b)
  local ta, tb = xpl_type(a), xpl_type(b)
  if ta ~= tb then
    return false
  end
  if ta == "number" then
    if xpl_math.type(a) == "float" or xpl_math.type(b) == "float" then
      return xpl_close(a, b)
    end
    return a == b
  end
  if ta == "table" then
    for k, v in xpl_next, a do
      local w = xpl_rawget(b, k)
      if w == nil or not xpl_equal(v, w) then
        return false
      end
    end
    for k in xpl_next, b do
      if xpl_rawget(a, k) == nil then
        return false
      end
    end
    return true
  end
  return a == b
end

local function xpl_show(v, depth)
  local t = xpl_type(v)
  if t == "string" then
    return xpl_string.format("%q", v)
  elseif t == "number" and xpl_math.type(v) == "float" then
    return xpl_string.format("%.17g", v)
  elseif t ~= "table" then
    return xpl_tostring(v)
  elseif depth > 20 then
    return "{...}"
  end
  local count = 0
  for _ in xpl_next, v do
    count = count + 1
  end
  local parts, sequence = {}, true
  for i = 1, count do
    local item = xpl_rawget(v, i)
    if item == nil then
      sequence = false
      break
    end
    parts[i] = xpl_show(item, depth + 1)
  end
  if not sequence then
    parts = {}
    for k, item in xpl_next, v do
      parts[#parts + 1] = "[" .. xpl_show(k, depth + 1) .. "] = " .. xpl_show(item, depth + 1)
    end
    xpl_table.sort(parts)
  end
  return "{" .. xpl_table.concat(parts, ", ") .. "}"
end

local function xpl_report(i, outcome)
  if outcome ~= "pass" then
    xpl_failed = xpl_failed + 1
  end
  xpl_stdout:write("\n@@xpl ", xpl_nonce, " ", i, " ", outcome, "\n")
  xpl_stdout:flush()
end

local function xpl_test(i, call, expected)
  local ok, got = xpl_pcall(call)
  if not ok then
    local shown, text = xpl_pcall(xpl_tostring, got)
    xpl_stderr:write("test ", i, ": error: ", shown and text or "(error object without a message)", "\n")
    xpl_report(i, "error")
  elseif xpl_equal(got, expected) then
    xpl_report(i, "pass")
  else
    xpl_stderr:write("test ", i, ": expected ", xpl_show(expected, 0), ", got ", xpl_show(got, 0), "\n")
    xpl_report(i, "fail")
  end
end
"""

# The harness of the value protocol: each result written as JSON by an encoder that
# ``Lua._encoder`` composes per type, accepting what ``xpl_equal`` above would compare equal
# to a value of that type (an integer and a float are numbers to each other; a list or tuple
# is a table with the keys 1..n and no others) and writing {"invalid": ...} for anything else.
# Strings are written byte for byte apart from quotes, backslashes and control characters.
_VALUE_PRELUDE = r"""
local xpl_type, xpl_next, xpl_pcall, xpl_tostring = _G.type, _G.next, _G.pcall, _G.tostring
local xpl_rawget, xpl_math, xpl_string, xpl_table = _G.rawget, _G.math, _G.string, _G.table
local xpl_stdout, xpl_stderr, xpl_exit = _G.io.stdout, _G.io.stderr, _G.os.exit
local xpl_nonce = _G.os.getenv("XPL_NONCE") or "-"

local function xpl_invalid(v)
  return '{"invalid":"' .. xpl_type(v) .. '"}'
end

local function xpl_json_number(v)
  if xpl_type(v) ~= "number" then
    return xpl_invalid(v)
  elseif v ~= v then
    return '"nan"'
  elseif v == xpl_math.huge or v == -xpl_math.huge then
    return v > 0 and '"inf"' or '"-inf"'
  elseif xpl_math.type(v) == "integer" then
    return xpl_string.format("%d", v)
  end
  local text = xpl_string.format("%.17g", v)
  if not xpl_string.find(text, "[.eE]") then
    text = text .. ".0"
  end
  return text
end

local function xpl_json_boolean(v)
  if xpl_type(v) ~= "boolean" then
    return xpl_invalid(v)
  end
  return v and "true" or "false"
end

local function xpl_json_string(v)
  if xpl_type(v) ~= "string" then
    return xpl_invalid(v)
  end
  local escaped = xpl_string.gsub(v, '[%c"\\]', function(c)
    return xpl_string.format("\\u%04x", xpl_string.byte(c))
  end)
  return '"' .. escaped .. '"'
end

local function xpl_json_nil(v)
  return v == nil and "null" or xpl_invalid(v)
end

local function xpl_json_optional(inner)
  return function(v)
    return v == nil and "null" or inner(v)
  end
end

-- The first member that takes the value (a JSON object is only ever {"invalid": ...}).
local function xpl_json_union(...)
  local members = {...}
  return function(v)
    for _, member in ipairs(members) do
      local out = member(v)
      if out:sub(1, 1) ~= "{" then
        return out
      end
    end
    return xpl_invalid(v)
  end
end

-- The items of a table whose keys are exactly 1..n, or nil.
local function xpl_sequence(v)
  if xpl_type(v) ~= "table" then
    return nil
  end
  local count = 0
  for _ in xpl_next, v do
    count = count + 1
  end
  local items = {}
  for i = 1, count do
    local item = xpl_rawget(v, i)
    if item == nil then
      return nil
    end
    items[i] = item
  end
  return items
end

local function xpl_json_list(elem)
  return function(v)
    local items = xpl_sequence(v)
    if items == nil then
      return xpl_invalid(v)
    end
    local parts = {}
    for i = 1, #items do
      parts[i] = elem(items[i])
    end
    return "[" .. xpl_table.concat(parts, ",") .. "]"
  end
end

local function xpl_json_tuple(...)
  local elems = { ... }
  return function(v)
    local items = xpl_sequence(v)
    if items == nil or #items ~= #elems then
      return xpl_invalid(v)
    end
    local parts = {}
    for i = 1, #elems do
      parts[i] = elems[i](items[i])
    end
    return "[" .. xpl_table.concat(parts, ",") .. "]"
  end
end

local function xpl_json_dict(key, value)
  return function(v)
    if xpl_type(v) ~= "table" then
      return xpl_invalid(v)
    end
    local parts = {}
    for k, x in xpl_next, v do
      parts[#parts + 1] = "[" .. key(k) .. "," .. value(x) .. "]"
    end
    return "[" .. xpl_table.concat(parts, ",") .. "]"
  end
end

local function xpl_report(i, call, encode)
  local line
  local ok, got = xpl_pcall(call)
  if not ok then
    local shown, text = xpl_pcall(xpl_tostring, got)
    xpl_stderr:write("test ", i, ": error: ", shown and text or "(error object without a message)", "\n")
    line = "error"
  else
    local encoded, text = xpl_pcall(encode, got)
    line = "value " .. (encoded and text or '{"invalid":"unencodable"}')
  end
  xpl_stdout:write("\n@@xpl ", xpl_nonce, " ", i, " ", line, "\n")
  xpl_stdout:flush()
end
"""


class Lua(Language):
    name = "lua"
    display_name = "Lua"
    aliases = ("lua",)
    extension = "lua"
    tools = (("lua", ("lua5.4", "lua"), ("-v",)),)
    apt_packages = ("lua5.4",)
    syntax_error_patterns = (_SYNTAX,)
    assertion_patterns = (r"assertion failed!",)
    memory_error_patterns = (r"\bnot enough memory\b",)
    stop_sequences = ("\nlocal", "\nfunction", "\n--", "\n\n")
    completion_suffix = ""
    return_template = "    return {}\nend\n"
    comment_prefix = "--"
    block = "end"
    reserved_words = _RESERVED
    scalar_type_names = {
        IntType: "integer",
        FloatType: "number",
        BoolType: "boolean",
        StrType: "string",
        NoneType: "nil",
    }
    float_specials = ("(0/0)", "math.huge", "-math.huge")

    def refine_toolchain(self, paths: dict[str, str]) -> tuple[dict[str, str], list[str]]:
        # `lua` may be 5.1 (no integers, no math.type): the harness and the values need 5.4.
        out = _command_output([paths["lua"], "-v"]) or ""
        m = re.search(r"\bLua (\d+)\.(\d+)", out)
        if not m or (int(m.group(1)), int(m.group(2))) < (5, 4):
            raise ToolchainMissing(
                f"Lua: {paths['lua']} is {out or 'unknown'}, xpl needs Lua 5.4 (apt-get install lua5.4)"
            )
        return paths, []

    # ----------------------------------------------------------------- building
    def plan_single(self, source: str, tc: Toolchain) -> BuildPlan:
        run = RunSpec([tc.tool("lua"), "-E", f"{BUILD}/main.lua"])
        return BuildPlan({"main.lua": source}, [], [run], {"main.lua": 0})

    # ----------------------------------------------------------------- rendering
    def render_type(self, typ: Type) -> str:
        """The type as a lua-language-server annotation (Lua itself has none)."""
        scalar = self.scalar_type_name(typ)
        if scalar is not None:
            return scalar
        if isinstance(typ, OptionalType):
            inner = self.render_type(typ.inner)
            return f"({inner})?" if isinstance(typ.inner, UnionType) else f"{inner}?"
        if isinstance(typ, UnionType):
            return "|".join(self.render_type(m) for m in typ.members)
        if isinstance(typ, AnyType):
            return "any"
        if isinstance(typ, ListType):
            return f"{self._stored(typ.elem, 'a list')}[]"
        if isinstance(typ, TupleType):
            return f"[{', '.join(self._stored(e, 'a tuple') for e in typ.elems)}]"
        if isinstance(typ, DictType):
            if isinstance(typ.key, (ListType, TupleType, DictType)):
                raise self.unsupported(f"{typ.key.annotation()} dict keys (Lua compares table keys by identity)")
            return f"table<{self._stored(typ.key, 'a dict key')}, {self._stored(typ.value, 'a dict value')}>"
        raise self.unsupported(f"type {typ!r}")

    def _stored(self, typ: Type, where: str) -> str:
        if isinstance(typ, (OptionalType, NoneType)):
            raise self.unsupported(f"{typ.annotation()} as {where} (a Lua table cannot hold nil)")
        return self.render_type(typ)

    def render_value(self, value: Any, typ: Type) -> str:
        if value is None:
            return "nil"
        if isinstance(typ, OptionalType):
            return self.render_value(value, typ.inner)
        if isinstance(typ, UnionType):
            return self.render_value(value, union_member(typ, value))
        if isinstance(typ, AnyType):
            return self.render_value(value, dynamic_type(value))
        if isinstance(typ, IntType):
            self.check_int(value)
            # 9223372036854775808 does not fit an integer: Lua would read it as a float.
            return "math.mininteger" if value == INT_MIN else str(int(value))
        if isinstance(typ, FloatType):
            return self.float_literal(value)  # always has a `.` or an exponent, so Lua reads a float
        if isinstance(typ, BoolType):
            return "true" if value else "false"
        if isinstance(typ, StrType):
            return escape_string(value)  # \u{XXX} escapes give UTF-8, as Lua strings are bytes
        if isinstance(typ, (ListType, TupleType, DictType)):
            self.render_type(typ)  # rejects what a table cannot hold
        if isinstance(typ, ListType):
            return "{" + ", ".join(self.render_value(v, typ.elem) for v in value) + "}"
        if isinstance(typ, TupleType):
            return "{" + ", ".join(self.render_value(v, t) for v, t in zip(value, typ.elems)) + "}"
        if isinstance(typ, DictType):
            items = []
            for k, v in value.items():
                if isinstance(k, float) and math.isnan(k):
                    raise self.unsupported("a NaN dict key (Lua tables cannot have one)")
                items.append(f"[{self.render_value(k, typ.key)}] = {self.render_value(v, typ.value)}")
            return "{" + ", ".join(items) + "}"
        raise self.unsupported(f"value {value!r} of type {typ!r}")

    def prompt(self, sig: Signature, docstring: str) -> str:
        # Refuse what a table cannot hold (a None inside a tuple, HumanEval/136): the harness's
        # writer would never accept a table with a hole, so no solution could pass.
        for t in sig.types():
            self.render_type(t)
        params = ", ".join(self.identifier(p.name) for p in sig.params)
        doc = self.comment(docstring) if docstring.strip() else ""
        return f"{doc}local function {self.identifier(sig.name)}({params})\n"

    def harness(self, sig: Signature, tests: Sequence[TestCase]) -> str:
        self.refuse_any_result(sig)
        fn = self.identifier(sig.name)
        calls = []
        for i, t in enumerate(tests):
            args = ", ".join(self.render_value(a, p.type) for a, p in zip(t.args, sig.params))
            calls.append(f"xpl_report({i}, function() return {fn}({args}) end, xpl_encode)\n")
        return (
            _VALUE_PRELUDE
            + f"local xpl_encode = {self._encoder(sig.returns)}\n"
            + "".join(calls)
            + 'xpl_stdout:write("\\n@@xpl ", xpl_nonce, " done\\n")\n'
            + "xpl_stdout:flush()\n"
            + "xpl_exit(0)\n"
        )

    def _encoder(self, typ: Type) -> str:
        """A Lua expression: the function writing a result of type ``typ`` as JSON."""
        if isinstance(typ, (IntType, FloatType)):
            return "xpl_json_number"
        if isinstance(typ, BoolType):
            return "xpl_json_boolean"
        if isinstance(typ, StrType):
            return "xpl_json_string"
        if isinstance(typ, NoneType):
            return "xpl_json_nil"
        if isinstance(typ, OptionalType):
            return f"xpl_json_optional({self._encoder(typ.inner)})"
        if isinstance(typ, ListType):
            return f"xpl_json_list({self._encoder(typ.elem)})"
        if isinstance(typ, TupleType):
            return "xpl_json_tuple(" + ", ".join(self._encoder(e) for e in typ.elems) + ")"
        if isinstance(typ, DictType):
            return f"xpl_json_dict({self._encoder(typ.key)}, {self._encoder(typ.value)})"
        if isinstance(typ, UnionType):
            return "xpl_json_union(" + ", ".join(self._encoder(m) for m in typ.members) + ")"
        raise self.unsupported(f"type {typ!r} as a result")

    def check_harness(self, sig: Signature, tests: Sequence[TestCase]) -> str:
        self.refuse_any_result(sig)
        fn = self.identifier(sig.name)
        calls = []
        for i, t in enumerate(tests):
            args = ", ".join(self.render_value(a, p.type) for a, p in zip(t.args, sig.params))
            expected = self.render_value(t.expected, sig.returns)
            calls.append(f"xpl_test({i}, function() return {fn}({args}) end, {expected})\n")
        return (
            _HARNESS_PRELUDE
            + "\n"
            + "".join(calls)
            + 'xpl_stdout:write("\\n@@xpl ", xpl_nonce, " done\\n")\n'
            + "xpl_stdout:flush()\n"
            + "xpl_exit(xpl_failed == 0 and 0 or 1)\n"
        )


__all__ = ["Lua"]
