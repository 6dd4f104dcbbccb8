"""Chat-style prompting: code extraction from replies, and a fair verdict in every PL for the
shapes instruct models answer in (prose around a fence, their own imports, a class, a main
of their own, the function defined twice, the function missing)."""

from __future__ import annotations

import pytest

from xpl.languages import all_languages, get_language
from xpl.languages.chat import code_blocks, extract_code, make_static, unwrap_classes
from xpl.problems.problem import Problem
from xpl.languages.types import Signature, TestCase
from tests.slow import SLOW_TOOLCHAINS, by_toolchain, slow

ADD = Signature.parse("add", [("a", "int"), ("b", "int")], "int")
PROBLEM = Problem("add", "test", ADD, "Add two integers.", (TestCase((1, 2), 3), TestCase((0, 5), 5), TestCase((-4, 4), 0)))


# ----------------------------------------------------------------------------- extraction


def test_extract_prefers_the_pl_then_untagged_then_any_then_the_whole_reply():
    reply = "Sure!\n```text\nnot code\n```\nHere:\n```\nuntagged\n```\n```rust\nfn x() {}\n```\n"
    assert extract_code(reply, ("rust", "rs")) == "fn x() {}\n"
    assert extract_code(reply, ("go",)) == "untagged\n"
    assert extract_code("```text\nonly\n```", ("go",)) == "only\n"
    assert extract_code("def f():\n    return 1\n", ("python",)) == "def f():\n    return 1\n"


def test_an_unclosed_block_is_code_to_the_end():
    blocks = code_blocks("```python\ndef f():\n    return 1")
    assert [(b.tag, b.code, b.closed) for b in blocks] == [("python", "def f():\n    return 1", False)]


def test_a_fence_inside_a_longer_fence_does_not_close_it():
    reply = "````markdown\n```python\nx = 1\n```\n````\n"
    assert code_blocks(reply)[0].code == "```python\nx = 1\n```\n"


def test_unwrap_classes_and_make_static():
    code = "public class Solution {\n    public int add(int a, int b) {\n        if (a > b) {\n            return a + b;\n        }\n        return a + b;\n    }\n}\n"
    out = make_static(unwrap_classes(code))
    assert "class" not in out
    assert "public static int add(int a, int b) {" in out
    assert "if (a > b) {" in out and "static if" not in out
    assert make_static("    static int f(int x) {\n") == "    static int f(int x) {\n"


def test_every_pl_has_a_chat_message_naming_it_and_its_fence():
    for lang in all_languages():
        r = PROBLEM.render_chat(lang)
        message = r.messages[0]["content"]
        assert lang.display_name in message and f"```{lang.name}" in message
        assert r.prefill == f"```{lang.name}\n" and r.stop_sequences == ("```",)


# ----------------------------------------------------------------------------- verdicts

# Per PL: how instruct models answer (prose, a fence, their own imports or class), the same
# with an entry point of their own, and (where the PL allows it) the function defined twice.
REPLIES = {
    "python": {
        "plain": "Here is the function:\n```python\ndef add(a: int, b: int) -> int:\n    return a + b\n```\nIt adds.",
        "main": "```python\nimport sys\n\ndef add(a, b):\n    return a + b\n\nif __name__ == \"__main__\":\n    print(add(int(sys.stdin.readline()), 1))\n```",
        "twice": "```python\ndef add(a, b):\n    return 0\n\ndef add(a, b):\n    return a + b\n```",
    },
    "rust": {
        "plain": "```rust\nuse std::collections::HashMap;\n\nfn add(a: i64, b: i64) -> i64 {\n    a + b\n}\n```",
        "main": "```rust\nfn add(a: i64, b: i64) -> i64 {\n    a + b\n}\n\nfn main() {\n    println!(\"{}\", add(1, 2));\n}\n```",
    },
    "go": {
        "plain": "```go\npackage main\n\nimport (\n\t\"fmt\"\n\t\"math/bits\"\n)\n\nfunc add(a int, b int) int {\n\t_ = bits.UintSize\n\treturn a + b\n}\n```",
        "main": "```go\npackage main\n\nimport \"fmt\"\n\nfunc add(a int, b int) int {\n\treturn a + b\n}\n\nfunc main() {\n\tfmt.Println(add(1, 2))\n}\n```",
    },
    "php": {
        "plain": "```php\n<?php\nfunction add($a, $b) {\n    return $a + $b;\n}\n?>\n```",
        "main": "```php\n<?php\nfunction add($a, $b) {\n    return $a + $b;\n}\necho add(1, 2);\n```",
    },
    "ruby": {
        "plain": "```ruby\ndef add(a, b)\n  a + b\nend\n```",
        "main": "```ruby\ndef add(a, b)\n  a + b\nend\n\nputs add(1, 2) if __FILE__ == $0\n```",
        "twice": "```ruby\ndef add(a, b)\n  0\nend\n\ndef add(a, b)\n  a + b\nend\n```",
    },
    "java": {
        "plain": "```java\nimport java.util.*;\n\npublic class Solution {\n    public long add(long a, long b) {\n        return a + b;\n    }\n}\n```",
        "main": "```java\npublic class Main {\n    public static long add(long a, long b) {\n        return a + b;\n    }\n\n    public static void main(String[] args) {\n        System.out.println(add(1, 2));\n    }\n}\n```",
    },
    "javascript": {
        "plain": "```javascript\nexport function add(a, b) {\n  return a + b;\n}\n```",
        "main": "```js\nfunction add(a, b) {\n  return a + b;\n}\nconsole.log(add(1, 2));\n```",
        "twice": "```javascript\nfunction add(a, b) { return 0; }\nfunction add(a, b) { return a + b; }\n```",
    },
    "typescript": {
        "plain": "```typescript\nexport function add(a: number, b: number): number {\n  return a + b;\n}\n```",
        "main": "```ts\nfunction add(a: number, b: number): number {\n  return a + b;\n}\nconsole.log(add(1, 2));\n```",
    },
    "cpp": {
        "plain": "```cpp\n#include <iostream>\nusing namespace std;\n\nlong add(long a, long b) {\n    return a + b;\n}\n```",
        "main": "```cpp\n#include <iostream>\n\nlong add(long a, long b) {\n    return a + b;\n}\n\nint main() {\n    std::cout << add(1, 2) << std::endl;\n    return 0;\n}\n```",
    },
    "csharp": {
        "plain": "```csharp\nusing System;\nusing System.Text;\n\nnamespace Demo {\n    public class Solution {\n        public long add(long a, long b) {\n            return a + b;\n        }\n    }\n}\n```",
        "main": "```csharp\nusing System;\n\nclass Program {\n    public static long add(long a, long b) {\n        return a + b;\n    }\n\n    static void Main(string[] args) {\n        Console.WriteLine(add(1, 2));\n    }\n}\n```",
    },
    "lua": {
        "plain": "```lua\nfunction add(a, b)\n  return a + b\nend\n```",
        "main": "```lua\nlocal function add(a, b)\n  return a + b\nend\nprint(add(1, 2))\n```",
        "twice": "```lua\nfunction add(a, b) return 0 end\nfunction add(a, b) return a + b end\n```",
    },
}

CASES = [(pl, kind) for pl, kinds in REPLIES.items() for kind in kinds]
# Each case compiles and runs a program: `slow` in the PLs whose toolchains take seconds.
CASE_PARAMS = [pytest.param(p, k, id=f"{p}-{k}", marks=[slow] if get_language(p).name in SLOW_TOOLCHAINS else []) for p, k in CASES]


def _usable(name: str):
    lang = get_language(name)
    if not lang.toolchain.available:
        pytest.skip(f"{lang.display_name} toolchain not installed: {lang.toolchain.problem}")
    return lang


@pytest.mark.parametrize("pl,kind", CASE_PARAMS)
def test_the_shapes_instruct_models_answer_in_pass(execute, pl, kind):
    _usable(pl)
    rendered = PROBLEM.render_chat(pl)
    program = get_language(pl).chat_program(ADD, REPLIES[pl][kind], rendered.harness)
    result = execute(pl, program, rendered.num_tests, expected=rendered.expected)
    assert result.status.value == "ok", (program, result.to_dict())


@pytest.mark.parametrize("pl", by_toolchain(sorted(REPLIES)))
def test_a_reply_without_the_function_fails(execute, pl):
    _usable(pl)
    rendered = PROBLEM.render_chat(pl)
    program = get_language(pl).chat_program(ADD, "I cannot help with that.", rendered.harness)
    result = execute(pl, program, rendered.num_tests, expected=rendered.expected)
    assert result.status.value in ("compile_error", "runtime_error"), result.to_dict()


@pytest.mark.parametrize("pl", by_toolchain(sorted(REPLIES)))
def test_a_wrong_function_fails_its_tests(execute, pl):
    _usable(pl)
    rendered = PROBLEM.render_chat(pl)
    wrong = REPLIES[pl]["plain"].replace("a + b", "a - b").replace("$a + $b", "$a - $b")
    result = execute(pl, get_language(pl).chat_program(ADD, wrong, rendered.harness), rendered.num_tests, expected=rendered.expected)
    assert result.status.value == "test_failure", result.to_dict()


def test_generation_prefill_reply_is_the_code_block():
    rendered = PROBLEM.render_chat("python")
    program = rendered.program("def add(a, b):\n    return a + b\n")  # the closing fence was the stop sequence
    assert program.startswith("def add(a, b):\n    return a + b\n")
