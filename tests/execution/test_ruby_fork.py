"""Ruby programs forked from a pre-started interpreter (``RunSpec.ruby_inline``).

The runner starts one Ruby fork server per chunk and asks it for each program's process;
the program must behave, and be confined, exactly as ``ruby --disable-gems main.rb`` exec'd
by the runner: the same output, exit status, error text and verdict, no name of the server
visible, no descriptor of it left open, the runner its parent (so that it waits for it,
meters and kills it as any other run).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time

import pytest

from xpl.execution import Job
from xpl.execution import runner as runner_module
from xpl.languages import get_language

RUBY = get_language("ruby")
pytestmark = pytest.mark.skipif(not RUBY.toolchain.available, reason="ruby is not installed")

# Each program is run twice by the runner, forked and exec'd; everything it reports must agree.
PROGRAMS = {
    "ok": 'puts "hello"\n$stderr.puts "to stderr"\n',
    "raises": 'def f(x)\n  raise ArgumentError, "bad #{x}"\nend\nputs "before"\nf(1)\n',
    "does_not_parse": "def f(x)\n  x +\nend\n",
    "exit_status": 'at_exit { puts "at exit" }\nexit 3\n',
    "exit_bang": 'puts "flushed?"\n$stdout.flush\nexit!(4)\n',
    "abort": 'abort("gave up")\n',
    "signal": 'Process.kill(:TERM, Process.pid)\nsleep 1\n',
    "json_not_required": "puts JSON.generate([1])\n",
    "socket_not_required": "p Socket\n",
    "json_required": 'require "json"\nputs JSON.generate({"a" => [1, 2]})\n',
    "main_script": "puts __FILE__ == $0\nputs $0 == $PROGRAM_NAME\np ARGV\n",
    "environment": 'puts ENV.keys.sort.join(",")\nputs Dir.pwd == ENV["HOME"]\n',
    "stdin": "p $stdin.read\n",
    "descriptors": 'puts Dir.children("/proc/self/fd").size\n',
    "no_server_names": "p defined?(rq), defined?(rp), defined?(lim), global_variables.size\n",
    "syntax_error_inside": 'begin\n  eval("1 +")\nrescue SyntaxError => e\n  puts "caught"\nend\n',
    "uncaught_in_required_eval": 'eval("def g = nil.foo")\ng\n',
    "limits": "p Process.getrlimit(:CPU), Process.getrlimit(:NOFILE)\n",
    "streams": "p [STDIN.class, STDOUT.class, STDERR.class, STDOUT.sync, STDERR.sync, STDOUT.external_encoding]\n",
    "process": "p [Process.getpgrp == Process.pid, Process.getsid == Process.pid, Process.euid == Process.uid]\n",
}


def _manifest(tmp_path, inline: bool) -> dict:
    ruby = RUBY.toolchain.tool("ruby")
    runs = []
    for name, source in PROGRAMS.items():
        d = tmp_path / "build" / name
        d.mkdir(parents=True, exist_ok=True)
        (d / "main.rb").write_text(source)
        path = str(d / "main.rb")
        runs.append(
            {
                "id": name,
                "argv": [ruby, "--disable-gems", path],
                "ruby_inline": path if inline else None,
                "env": {"LANG": "C.UTF-8", "PATH": "/usr/bin:/bin"},
                "limits": {"cpu_s": 5, "memory_mb": 512, "file_mb": 16, "open_files": 64, "timeout_s": 10, "output_bytes": 1 << 20},
            }
        )
    # Standard input from given bytes, and a file put into the work directory.
    runs[list(PROGRAMS).index("stdin")]["stdin"] = base64.b64encode("héllo\n".encode()).decode()
    runs[list(PROGRAMS).index("ok")]["files"] = [["in.txt", base64.b64encode(b"x").decode()]]
    work = tmp_path / ("work-inline" if inline else "work-exec")
    work.mkdir()
    return {"work_root": str(work), "runs": runs}


def _run_runner(tmp_path, manifest: dict, name: str) -> dict:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(manifest))
    proc = subprocess.run([sys.executable, "-I", "-S", runner_module.__file__, str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return {r["id"]: r for r in map(json.loads, proc.stdout.splitlines())}


def test_forked_programs_behave_as_exec_d_ones(tmp_path):
    forked = _run_runner(tmp_path, _manifest(tmp_path, inline=True), "inline")
    execd = _run_runner(tmp_path, _manifest(tmp_path, inline=False), "exec")
    assert set(forked) == set(PROGRAMS)
    for name in PROGRAMS:
        a, b = forked[name], execd[name]
        for key in ("exit_code", "signal", "stdout", "stderr", "timed_out", "memory_exceeded", "output_exceeded"):
            assert a[key] == b[key], (name, key, a[key], b[key])
    assert "syntax error" in forked["does_not_parse"]["stderr"] and forked["does_not_parse"]["exit_code"] == 1
    assert forked["json_not_required"]["exit_code"] == 1 and "uninitialized constant JSON" in forked["json_not_required"]["stderr"]
    assert forked["no_server_names"]["stdout"].startswith("nil\nnil\nnil\n")
    assert forked["signal"]["signal"] == 15
    assert forked["stdin"]["stdout"] == '"héllo\\n"\n'


def test_the_forked_path_is_taken_and_the_runner_is_the_parent(tmp_path):
    # The program reports the CPU time of its own process: a forked one has not paid Ruby's
    # start-up (several ms), and its parent is this runner, which waits for it (wait4).
    d = tmp_path / "b"
    d.mkdir()
    (d / "main.rb").write_text("puts Process.clock_gettime(Process::CLOCK_PROCESS_CPUTIME_ID)\nputs Process.ppid\n")
    run = {
        "argv": [RUBY.toolchain.tool("ruby"), "--disable-gems", str(d / "main.rb")],
        "ruby_inline": str(d / "main.rb"),
        "env": {"LANG": "C.UTF-8"},
        "limits": {"cpu_s": 5, "memory_mb": 512, "file_mb": 16, "open_files": 64, "timeout_s": 10, "output_bytes": 1 << 20},
    }
    work = tmp_path / "w"
    work.mkdir()
    manifest = {"work_root": str(work), "runs": [dict(run, id=str(i)) for i in range(3)]}
    results = _run_runner(tmp_path, manifest, "m")
    parents = set()
    for r in results.values():
        assert r["exit_code"] == 0, r
        cpu, ppid = r["stdout"].split()
        assert float(cpu) < 0.003, r  # exec'd, Ruby's start alone is ~5 ms of CPU here
        parents.add(int(ppid))
    assert len(parents) == 1  # the runner


def test_a_dead_server_falls_back_to_exec(tmp_path):
    # The server is killed between runs: the next run is exec'd, with the same result.
    d = tmp_path / "b"
    d.mkdir()
    (d / "main.rb").write_text('puts "ran"\n')
    (d / "kill.rb").write_text("")
    ruby = RUBY.toolchain.tool("ruby")
    limits = {"cpu_s": 5, "memory_mb": 512, "file_mb": 16, "open_files": 64, "timeout_s": 10, "output_bytes": 1 << 20}
    base = {"argv": [ruby, "--disable-gems", str(d / "main.rb")], "ruby_inline": str(d / "main.rb"), "env": {"LANG": "C.UTF-8"}, "limits": limits}
    # The second run (exec'd: a child of the runner) kills the runner's Ruby child, the server.
    killer = {
        "argv": ["/bin/sh", "-c", 'pkill -KILL -P "$PPID" -f "^[^ ]*ruby" ; echo killed'],
        "env": {"PATH": "/usr/bin:/bin"},
        "limits": limits,
    }
    work = tmp_path / "w"
    work.mkdir()
    manifest = {"work_root": str(work), "runs": [dict(base, id="0"), dict(killer, id="1"), dict(base, id="2"), dict(base, id="3")]}
    results = _run_runner(tmp_path, manifest, "m")
    for i in ("0", "2", "3"):
        assert results[i]["exit_code"] == 0 and results[i]["stdout"] == "ran\n", results[i]


def test_plans_fork_unless_the_program_reads_data():
    tc = RUBY.toolchain
    plan = RUBY.plan_single('puts "x"\n', tc)
    assert plan.runs[0].ruby_inline == "{build}/main.rb"
    # DATA (the text after __END__) exists for a main script only: such a file is exec'd.
    plan = RUBY.plan_single('puts DATA.read\n__END__\nsecret\n', tc)
    assert plan.runs[0].ruby_inline is None


def test_engine_results_match_exec_for_data_and_failures(execute):
    assert execute("ruby", 'puts DATA.read\n__END__\nsecret\n').stdout.strip() == "secret"
    res = execute("ruby", "def f(x)\n  x +\nend\n")
    assert res.status.value == "compile_error"
    res = execute("ruby", "raise 'boom'\n")
    assert res.status.value == "runtime_error"
