"""Whole programs with I/O through the engine (``ProgramIO``): stdin, input files, fetched
files, whole output, and ``on_result`` streaming. What ``xpl serve``'s /run_code stands on."""

from __future__ import annotations

import pytest

from xpl.execution import Job, Limits, Status
from xpl.execution.engine import KEEP_RUN_BYTES, ProgramIO
from xpl.languages import get_language

LIMITS = Limits(timeout_s=20.0)

ECHO_SUM = {
    "python": "import sys\nprint(sum(int(x) for x in sys.stdin.read().split()))\n",
    "cpp": "#include <iostream>\nint main() { long s = 0, x; while (std::cin >> x) s += x; std::cout << s << std::endl; }\n",
    "rust": (
        "use std::io::Read;\nfn main() {\n    let mut s = String::new();\n    std::io::stdin().read_to_string(&mut s).unwrap();\n"
        "    let t: i64 = s.split_whitespace().map(|x| x.parse::<i64>().unwrap()).sum();\n    println!(\"{}\", t);\n}\n"
    ),
    "javascript": "const t = require('fs').readFileSync(0, 'utf8').split(/\\s+/).filter(Boolean).map(Number).reduce((a, b) => a + b, 0);\nconsole.log(t);\n",
}


def _need(lang: str) -> None:
    if not get_language(lang).toolchain.available:
        pytest.skip(f"{lang} toolchain not installed")


@pytest.mark.parametrize("lang", sorted(ECHO_SUM))
def test_stdin_reaches_the_program(engine, lang):
    _need(lang)
    jobs = [Job(lang, ECHO_SUM[lang], limits=LIMITS), Job(lang, ECHO_SUM[lang], limits=LIMITS)]
    # The same program with two inputs in one call: two runs, two answers (stdin is part of the key).
    results = engine.run(jobs, io=[ProgramIO(stdin=b"1 2 3\n"), ProgramIO(stdin=b"40 2")])
    assert [r.status for r in results] == [Status.OK, Status.OK], [r.describe() for r in results]
    assert [r.stdout for r in results] == ["6\n", "42\n"]
    assert results[0].key != results[1].key


def test_without_stdin_the_program_reads_end_of_file(engine):
    [result] = engine.run([Job("python", "import sys\nprint(repr(sys.stdin.read()))\n", limits=LIMITS)], io=[ProgramIO()])
    assert result.stdout == "''\n"


def test_non_ascii_stdin_reaches_python_as_utf8(engine):
    [result] = engine.run([Job("python", "print(input()[::-1])\n", limits=LIMITS)], io=[ProgramIO(stdin="héllo wörld ✓\n".encode())])
    assert result.status == Status.OK, result.describe()
    assert result.stdout == "✓ dlröw olléh\n"


def test_files_in_and_fetched_back(engine):
    program = (
        "import os\n"
        "data = open('data/in.txt').read()\n"
        "open('out.txt', 'w').write(data.upper())\n"
        "os.symlink('/etc/passwd', 'leak.txt')\n"
        "os.mkdir('adir')\n"
    )
    seen = []
    [result] = engine.run(
        [Job("python", program, limits=LIMITS)],
        io=[ProgramIO(files=(("data/in.txt", b"abc"),), fetch=("out.txt", "missing.txt", "leak.txt", "adir"))],
        on_result=lambda i, r, fetched: seen.append((i, r.status, fetched)),
    )
    assert result.status == Status.OK, result.describe()
    # Only the regular file the program wrote: not a missing file, not a directory, and never
    # what a symbolic link points to outside the working directory.
    assert seen == [(0, Status.OK, {"out.txt": b"ABC"})]


def test_input_files_belong_to_the_program(engine):
    program = "open('notes.txt', 'a').write('more')\nprint(open('notes.txt').read())\n"
    [result] = engine.run([Job("python", program, limits=LIMITS)], io=[ProgramIO(files=(("notes.txt", b"some "),))])
    assert result.status == Status.OK, result.describe()
    assert result.stdout == "some more\n"


def test_whole_output_keeps_everything_up_to_the_limit(engine):
    program = "print('x' * 100000)\n"
    limits = Limits(timeout_s=20.0, max_output_kb=512)
    whole, tail = engine.run([Job("python", program, limits=limits), Job("python", program, limits=limits)], io=[ProgramIO(whole_output=True), None])
    assert len(whole.stdout) == 100001
    assert len(tail.stdout) == KEEP_RUN_BYTES


def test_paths_outside_the_working_directory_are_refused():
    for bad in ("/etc/passwd", "../x", "a/../../x", ""):
        with pytest.raises(ValueError, match="relative path"):
            ProgramIO(fetch=(bad,))
        with pytest.raises(ValueError, match="relative path"):
            ProgramIO(files=((bad, b""),))


def test_on_result_streams_every_job_once(engine):
    jobs = [Job("python", f"print({i})\n", limits=LIMITS) for i in range(5)] + [Job("python", "print(0)\n", limits=LIMITS)]
    seen: list[int] = []
    results = engine.run(jobs, on_result=lambda i, r, fetched: seen.append(i))
    assert sorted(seen) == list(range(6))  # the duplicate (same key as job 0) is reported too
    assert [r.stdout for r in results] == ["0\n", "1\n", "2\n", "3\n", "4\n", "0\n"]


def test_io_must_match_the_jobs(engine):
    with pytest.raises(ValueError, match="io has 1 entries for 2 jobs"):
        engine.run([Job("python", "pass\n"), Job("python", "pass\n")], io=[None])
