"""Ruby (MRI, 3.x).

Problems are written the MultiPL-E way: ``def name(a, b)`` after the docstring as ``#``
comments, closed by ``end``. Lists and tuples are Arrays, dicts are Hashes (``{"a" => 1}``),
``None`` is ``nil``; Integers are arbitrary-precision, so 64-bit bounds need no care.

Programs run as ``ruby --disable-gems main.rb`` with ``RUBYLIB`` holding the library folders
of every installed gem (the newest version of each, as RubyGems would activate it, found once
per process by asking RubyGems). Loading RubyGems is most of Ruby's start-up (about 50 of
60 ms per run here), and a program loads the same files either way: ``require "prime"`` (a
bundled gem), ``"set"`` or ``"json"`` (default gems) work as under plain ``ruby main.rb``.
What differs: the ``Gem`` module is not defined (a program calling ``Gem::Version`` gets a
``NameError``), and error messages lack did_you_mean's and error_highlight's hints (stderr
text only; verdicts never read it). ``reference_plan`` (MultiPL-E's way, the benchmark's
peer) stays plain ``ruby main.rb``. A file that does not parse is rejected before anything
runs, with ``file:line: syntax error, ...`` (parse.y) or ``syntax errors found`` (prism, 3.4+).

The runner does not exec ``ruby`` per program (``RunSpec.ruby_inline``): it starts that same
command line once per sandbox as a fork server and runs each program in a forked child that
confines itself like an exec'd one and ``load``s the file as the main program (``$0``,
``__FILE__``, exit status, at_exit handlers, uncaught errors and syntax errors as ``ruby
main.rb`` prints them; the server requires nothing, so no library is loaded that a program did
not ask for): about 1.4 ms of CPU a program instead of 8 (the runner's ``cpu_s``). A file with
``__END__`` is exec'd: ``DATA`` exists for a main script only. ``xpl/execution/runner.py`` has
the server.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Sequence

from xpl.languages.base import BUILD, BuildPlan, Language, RunSpec, Toolchain, _command_output, escape_string
from xpl.languages.types import (
    AnyType,
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
    "BEGIN END __ENCODING__ __FILE__ __LINE__ alias and begin break case class def defined? do "
    "else elsif end ensure false for if in module next nil not or redo rescue retry return self "
    "super then true undef unless until when while yield".split()
)

# Deep equality mirroring ``xpl.languages.types.values_equal``. Only explicit receivers
# ($stdout, Kernel) are used, so a candidate that defines e.g. ``puts`` or ``exit`` at the top
# level (a private method of Object) cannot hijack the harness.
_HARNESS_PRELUDE = r'''

def __xpl_close(a, b)
  return a.nan? && b.nan? if a.nan? || b.nan?
  return a == b if a.infinite? || b.infinite?
  (a - b).abs <= [1e-6 * [a.abs, b.abs].max, 1e-9].max
end

def __xpl_number?(x)
  x.is_a?(Integer) || x.is_a?(Float)
end

def __xpl_equal(a, b)
  if a.is_a?(Float) || b.is_a?(Float)
    return __xpl_number?(a) && __xpl_number?(b) && __xpl_close(a.to_f, b.to_f)
  end
  if a.is_a?(Array) && b.is_a?(Array)
    return a.length == b.length && a.each_index.all? { |i| __xpl_equal(a[i], b[i]) }
  end
  if a.is_a?(Hash) && b.is_a?(Hash)
    return a.length == b.length && a.all? { |k, v| b.key?(k) && __xpl_equal(v, b[k]) }
  end
  a.class == b.class && a == b
end

def __xpl_run(candidate, tests)
  nonce = ENV.fetch("XPL_NONCE", "-")
  failed = 0
  tests.each_with_index do |(args, expected), i|
    begin
      actual = __send__(candidate, *args)
      outcome = __xpl_equal(actual, expected) ? "pass" : "fail"
      $stderr.write("test #{i}: expected #{expected.inspect}, got #{actual.inspect}\n") if outcome == "fail"
    rescue SystemExit, SignalException
      raise
    rescue Exception => e # any raise, NoMemoryError and SystemStackError included, is this test's error
      $stderr.write("test #{i}: #{e.class}: #{e.message.to_s.gsub("\n", "\\n")}\n")
      outcome = "error"
    end
    failed += 1 unless outcome == "pass"
    $stdout.write("\n@@xpl #{nonce} #{i} #{outcome}\n")
    $stdout.flush
  end
  $stdout.write("\n@@xpl #{nonce} done\n")
  $stdout.flush
  Kernel.exit(failed.zero? ? 0 : 1)
end
'''

# The harness of the value protocol: each result written as JSON by a lambda that
# ``Ruby._encoder`` composes per type, accepting what ``__xpl_equal`` above would compare equal
# to a value of that type (an Integer and a Float are numbers to each other) and writing
# {"invalid": ...} for anything else. Strings are written byte for byte apart from quotes,
# backslashes and control characters (the engine reads invalid UTF-8 as such).
_VALUE_PRELUDE = r'''

def __xpl_invalid(v)
  "{\"invalid\":\"#{v.class.name.to_s.b.gsub(/[^A-Za-z0-9:]/n, "")}\"}"
end

XPL_NUMBER = lambda do |v|
  if v.is_a?(Integer)
    v.to_s
  elsif !v.is_a?(Float)
    __xpl_invalid(v)
  elsif v.nan?
    '"nan"'
  elsif v.infinite?
    v > 0 ? '"inf"' : '"-inf"'
  else
    v.to_s
  end
end

XPL_BOOL = ->(v) { v == true || v == false ? v.to_s : __xpl_invalid(v) }
XPL_STRING = lambda do |v|
  next __xpl_invalid(v) unless v.is_a?(String)
  '"' + v.b.gsub(/[\x00-\x1f"\\]/n) { |c| format('\u%04x', c.ord) } + '"'
end
XPL_NONE = ->(v) { v.nil? ? "null" : __xpl_invalid(v) }

def __xpl_optional(inner)
  ->(v) { v.nil? ? "null" : inner.call(v) }
end

def __xpl_list(elem)
  ->(v) { v.is_a?(Array) ? "[" + v.map { |x| elem.call(x) }.join(",") + "]" : __xpl_invalid(v) }
end

def __xpl_tuple(*elems)
  lambda do |v|
    next __xpl_invalid(v) unless v.is_a?(Array) && v.length == elems.length
    "[" + elems.each_with_index.map { |e, i| e.call(v[i]) }.join(",") + "]"
  end
end

def __xpl_dict(key, value)
  ->(v) { v.is_a?(Hash) ? "[" + v.map { |k, x| "[" + key.call(k) + "," + value.call(x) + "]" }.join(",") + "]" : __xpl_invalid(v) }
end

# The first member that takes the value (a JSON object is only ever {"invalid": ...}).
def __xpl_union(*members)
  lambda do |v|
    members.each do |m|
      out = m.call(v)
      return out unless out.start_with?("{")
    end
    __xpl_invalid(v)
  end
end

def __xpl_report(candidate, encode, tests)
  nonce = ENV.fetch("XPL_NONCE", "-")
  tests.each_with_index do |args, i|
    begin
      line = "value " + encode.call(__send__(candidate, *args))
    rescue SystemExit, SignalException
      raise
    rescue Exception => e # any raise, NoMemoryError and SystemStackError included, is this test's error
      $stderr.write("test #{i}: #{e.class}: #{e.message.to_s.gsub("\n", "\\n")}\n")
      line = "error"
    end
    $stdout.write("\n@@xpl #{nonce} #{i} " + line + "\n")
    $stdout.flush
  end
  $stdout.write("\n@@xpl #{nonce} done\n")
  $stdout.flush
  Kernel.exit(0)
end
'''


class Ruby(Language):
    name = "ruby"
    display_name = "Ruby"
    aliases = ("rb", "ruby")
    extension = "rb"
    tools = (("ruby", ("ruby",), ("--version",)),)
    apt_packages = ("ruby",)
    syntax_error_patterns = (
        r"^\S+:\d+: syntax error, ",  # parse.y (the default parser up to Ruby 3.3)
        r"\bsyntax errors? found\b",  # prism (Ruby >= 3.4)
    )
    assertion_patterns = (
        r"Test::Unit::AssertionFailedError",  # test/unit, used by MultiPL-E's Ruby suites
        r"^Failure:",
        r"Minitest::Assertion\b",
    )
    memory_error_patterns = (
        r"failed to allocate memory \(NoMemoryError\)",  # uncaught
        r"^test \d+: NoMemoryError\b",  # caught by the harness
    )
    stop_sequences = (
        "\nend", "\ndef ", "\nclass ", "\nmodule ", "\n#", "\nputs", "\nrequire ", "\n=begin", "\n__END__",
    )
    completion_suffix = "end\n"
    return_template = "  return {}\n"
    comment_prefix = "#"
    block = "end"
    reserved_words = _KEYWORDS
    scalar_type_names = {
        IntType: "Integer",
        FloatType: "Float",
        BoolType: "bool",
        StrType: "String",
        NoneType: "nil",
    }
    float_specials = ("Float::NAN", "Float::INFINITY", "-Float::INFINITY")

    # ----------------------------------------------------------------- building
    def plan_single(self, source: str, tc: Toolchain) -> BuildPlan:
        ruby = tc.tool("ruby")
        gems = _gem_paths(ruby)
        if gems is None:  # RubyGems could not be asked: run as a user would, gems enabled
            run = RunSpec([ruby, f"{BUILD}/main.rb"])
        else:
            # Forked from a pre-started interpreter by the runner, unless the file reads its own
            # text after __END__ (DATA is defined for a main script only).
            inline = None if re.search(r"^__END__\r?$", source, re.M) else f"{BUILD}/main.rb"
            run = RunSpec([ruby, "--disable-gems", f"{BUILD}/main.rb"], {"RUBYLIB": gems} if gems else {}, ruby_inline=inline)
        return BuildPlan({"main.rb": source}, [], [run], {"main.rb": 0})

    def reference_plan(self, source: str, tc: Toolchain) -> BuildPlan:
        # MultiPL-E runs `ruby file.rb`: RubyGems loaded.
        return BuildPlan({"main.rb": source}, [], [RunSpec([tc.tool("ruby"), f"{BUILD}/main.rb"])], {"main.rb": 0})

    # ----------------------------------------------------------------- rendering
    def parameter(self, name: str, taken: set[str]) -> str:
        """A local-variable name for a parameter: capitalised names are constants in Ruby
        ("formal argument cannot be a constant"), so ``N`` becomes ``n`` (``n_`` if taken)."""
        if name[:1].isupper():
            name = name[0].lower() + name[1:]
            while name in taken or name in _KEYWORDS:
                name += "_"
        return self.identifier(name)

    def _parameters(self, sig: Signature) -> list[str]:
        taken = {p.name for p in sig.params}
        return [self.parameter(p.name, taken) for p in sig.params]

    def render_type(self, typ: Type) -> str:
        # Ruby has no static types; this spells the runtime classes, RBS-style, and decides
        # what can be expressed (everything in the algebra can).
        scalar = self.scalar_type_name(typ)
        if scalar is not None:
            return scalar
        if isinstance(typ, ListType):
            return f"Array[{self.render_type(typ.elem)}]"
        if isinstance(typ, TupleType):
            return "[" + ", ".join(self.render_type(e) for e in typ.elems) + "]"
        if isinstance(typ, DictType):
            return f"Hash[{self.render_type(typ.key)}, {self.render_type(typ.value)}]"
        if isinstance(typ, OptionalType):
            inner = self.render_type(typ.inner)
            return f"({inner})?" if isinstance(typ.inner, UnionType) else inner + "?"
        if isinstance(typ, UnionType):
            return " | ".join(self.render_type(m) for m in typ.members)
        if isinstance(typ, AnyType):
            return "untyped"
        raise self.unsupported(f"type {typ!r}")

    def render_value(self, value: Any, typ: Type) -> str:
        if value is None:
            return "nil"
        if isinstance(typ, OptionalType):
            return self.render_value(value, typ.inner)
        if isinstance(typ, UnionType):
            return self.render_value(value, union_member(typ, value))
        if isinstance(typ, AnyType):
            return self.render_value(value, dynamic_type(value))
        if isinstance(typ, FloatType):
            return self.float_literal(value)  # "1e-07", "1.5", "-0.0": all Float literals in Ruby
        if isinstance(typ, IntType):
            self.check_int(value)
            return str(int(value))
        if isinstance(typ, BoolType):
            return "true" if value else "false"
        if isinstance(typ, StrType):
            return self.render_string(value)
        if isinstance(typ, ListType):
            return "[" + ", ".join(self.render_value(v, typ.elem) for v in value) + "]"
        if isinstance(typ, TupleType):
            return "[" + ", ".join(self.render_value(v, t) for v, t in zip(value, typ.elems)) + "]"
        if isinstance(typ, DictType):
            items = (f"{self.render_value(k, typ.key)} => {self.render_value(v, typ.value)}" for k, v in value.items())
            return "{" + ", ".join(items) + "}"
        raise self.unsupported(f"value {value!r} of type {typ!r}")

    def render_string(self, s: str) -> str:
        """A double-quoted literal; ``\\#`` stops ``#{}``/``#@``/``#$`` interpolation."""
        if any(0xD800 <= ord(ch) <= 0xDFFF for ch in s):
            raise self.unsupported("strings with lone surrogate code points")  # "invalid Unicode codepoint"
        return escape_string(s, '"', extra={"#": "\\#"}, unicode="\\u{{{:x}}}")

    def prompt(self, sig: Signature, docstring: str) -> str:
        doc = self.comment(docstring) if docstring.strip() else ""
        return f"{doc}def {self.identifier(sig.name)}({', '.join(self._parameters(sig))})\n"

    def harness(self, sig: Signature, tests: Sequence[TestCase]) -> str:
        self.refuse_any_result(sig)
        rows = []
        for t in tests:
            args = ", ".join(self.render_value(a, p.type) for a, p in zip(t.args, sig.params))
            rows.append(f"  [{args}],\n")
        return (
            _VALUE_PRELUDE
            + f"\n__xpl_report(:{self.identifier(sig.name)}, {self._encoder(sig.returns)}, [\n"
            + "".join(rows)
            + "])\n"
        )

    def _encoder(self, typ: Type) -> str:
        """A Ruby expression: the lambda writing a result of type ``typ`` as JSON."""
        if isinstance(typ, (IntType, FloatType)):
            return "XPL_NUMBER"
        if isinstance(typ, BoolType):
            return "XPL_BOOL"
        if isinstance(typ, StrType):
            return "XPL_STRING"
        if isinstance(typ, NoneType):
            return "XPL_NONE"
        if isinstance(typ, OptionalType):
            return f"__xpl_optional({self._encoder(typ.inner)})"
        if isinstance(typ, ListType):
            return f"__xpl_list({self._encoder(typ.elem)})"
        if isinstance(typ, TupleType):
            return "__xpl_tuple(" + ", ".join(self._encoder(e) for e in typ.elems) + ")"
        if isinstance(typ, DictType):
            return f"__xpl_dict({self._encoder(typ.key)}, {self._encoder(typ.value)})"
        if isinstance(typ, UnionType):
            return "__xpl_union(" + ", ".join(self._encoder(m) for m in typ.members) + ")"
        raise self.unsupported(f"type {typ!r} as a result")

    def check_harness(self, sig: Signature, tests: Sequence[TestCase]) -> str:
        self.refuse_any_result(sig)
        rows = []
        for t in tests:
            args = ", ".join(self.render_value(a, p.type) for a, p in zip(t.args, sig.params))
            rows.append(f"  [[{args}], {self.render_value(t.expected, sig.returns)}],\n")
        return (
            _HARNESS_PRELUDE
            + f"\n__xpl_run(:{self.identifier(sig.name)}, [\n"
            + "".join(rows)
            + "])\n"
        )


# The library folders RubyGems would put on $LOAD_PATH for the newest version of every
# installed gem (default gems included), existing ones only, in RubyGems' order.
_GEM_PATHS_SCRIPT = (
    "print Gem::Specification.latest_specs(true).flat_map(&:full_require_paths)"
    ".select { |d| File.directory?(d) }.uniq.join(File::PATH_SEPARATOR)"
)


@functools.lru_cache(maxsize=None)
def _gem_paths(ruby: str) -> str | None:
    """``RUBYLIB`` for running ``ruby`` without RubyGems; None when RubyGems cannot be asked."""
    out = _command_output([ruby, "-e", _GEM_PATHS_SCRIPT])
    return None if out is None else out.strip()
