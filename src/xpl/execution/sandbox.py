"""Starting the runner inside a sandbox.

Two mechanisms, chosen once per engine:

``bwrap`` (Debian package ``bubblewrap``): the runner and everything it starts see a
read-only view of the system directories and of the toolchains' install roots only (not
``/root``, ``/home``, the project, or the host's ``/tmp``), a private scratch file system of
fixed size, no network (a new, empty network namespace) and a private PID namespace, so
nothing can survive the sandbox. When xpl runs as root (CI, containers) every program also
runs under its own unprivileged uid, so ``RLIMIT_NPROC`` bounds fork bombs per program and a
program cannot signal the runner.

``none``: a loudly reported fallback for machines without bubblewrap (or whose kernel
forbids the namespaces it needs). Programs still get rlimits, their own session, the
memory watchdog and a deadline, but they run as the invoking user, can read the file
system and open network connections, and a program that leaves its session can escape
the clean-up. Never evaluate untrusted code this way on a
machine that matters.
"""

from __future__ import annotations

import fcntl
import logging
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

log = logging.getLogger("xpl.execution")

RUNNER = Path(__file__).with_name("runner.py")

# Paths inside the bwrap sandbox.
SANDBOX_BUILD = "/xpl/build"
SANDBOX_WORK = "/xpl/work"
SANDBOX_RUNNER = "/xpl/runner.py"
SANDBOX_MANIFEST = "/xpl/manifest.json"
# Private tmpfs mounts, each capped at the scratch size and emptied after every run. /dev/shm
# is one of them (not a directory on bwrap's unbounded /dev tmpfs), so shm_open files are
# bounded, counted by the memory watchdog, and gone with the run.
SANDBOX_SCRATCH = ("/tmp", "/dev/shm")

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
# Capabilities the runner keeps inside the sandbox (as root) to create work directories for
# the programs' uids, switch to those uids, and clean up after them. Programs have none.
# CAP_SYS_PTRACE lets it read the programs' /proc/<pid>/smaps_rollup for the memory watchdog.
RUNNER_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL", "CAP_SYS_PTRACE")


class SandboxUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class SandboxInfo:
    kind: str  # "bwrap" | "none"
    switch_users: bool  # programs run under per-slot unprivileged uids (we are root)
    detail: str  # one line for `xpl langs` / logs

    @property
    def isolated(self) -> bool:
        return self.kind == "bwrap"


# Every engine compiles under this one uid, so persistent compiler caches (GOCACHE, the C++
# precompiled header) keep one owner; run slots get uids of the engine's own UidBlock.
COMPILE_UID = 61000


class UidBlock:
    """A block of unused uids held by one engine for its lifetime.

    RLIMIT_NPROC counts every process of a uid on the machine, so two engines (two test
    runs, two experiments) must never share uids. A block is claimed with an exclusive
    ``flock`` on a lock file named after it, held open until ``release`` (or process exit);
    uids that belong to real accounts are skipped.
    """

    SPAN = 64

    def __init__(self, base: int, handle):
        self.base = base
        self._handle = handle

    @classmethod
    def acquire(cls, start: int = COMPILE_UID + 1, tries: int = 64) -> UidBlock:
        lock_dir = Path("/run/lock") if os.access("/run/lock", os.W_OK) else Path(tempfile.gettempdir())
        base = start
        for _ in range(tries):
            if not any(_uid_exists(u) for u in range(base, base + cls.SPAN)):
                handle = open(lock_dir / f"xpl-uids-{base}.lock", "w")
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return cls(base, handle)
                except OSError:
                    handle.close()
            base += cls.SPAN
        raise SandboxUnavailable(f"no free block of {cls.SPAN} uids from {start} on")

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _uid_exists(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        return False


@cache
def detect(requested: str = "auto") -> SandboxInfo:
    """Pick the sandbox. ``requested``: ``auto`` (bwrap if it works), ``bwrap`` (or fail), ``none``."""
    if requested not in ("auto", "bwrap", "none"):
        raise ValueError(f"sandbox must be auto, bwrap or none, got {requested!r}")
    root = os.geteuid() == 0
    if requested == "none":
        return SandboxInfo("none", False, "sandbox disabled by request: NO filesystem/network isolation")
    bwrap = shutil.which("bwrap")
    problem = ""
    if bwrap is None:
        problem = "bubblewrap is not installed (apt-get install bubblewrap)"
    else:
        probe = [bwrap, *(_caps() if root else []), "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--", "/bin/true"]
        try:
            proc = subprocess.run(probe, capture_output=True, text=True, timeout=20)
            if proc.returncode != 0:
                problem = f"bubblewrap does not work here: {proc.stderr.strip() or proc.returncode}"
        except (OSError, subprocess.SubprocessError) as exc:
            problem = f"bubblewrap does not work here: {exc}"
    if not problem:
        how = "per-program uids" if root else "no uid switching (not root): one sandbox per program"
        return SandboxInfo("bwrap", root, f"bubblewrap {_bwrap_version(bwrap)}: no network, read-only system view, {how}")
    if requested == "bwrap":
        raise SandboxUnavailable(problem)
    detail = f"UNSANDBOXED fallback ({problem}): programs can read files and use the network; only rlimits apply"
    log.warning("xpl execution: %s", detail)
    # No uid switching without the sandbox's view: toolchains under /root (pyenv, rustup)
    # would be unreadable for an unprivileged uid on the real file system.
    return SandboxInfo("none", False, detail)


def _bwrap_version(bwrap: str) -> str:
    try:
        return subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=10).stdout.split()[-1]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "?"


def _caps() -> list[str]:
    args: list[str] = []
    for cap in RUNNER_CAPS:
        args += ["--cap-add", cap]
    return args


def runner_python() -> str:
    """The interpreter that runs the runner (and, inline, Python programs): Python's toolchain."""
    from xpl.languages import get_language

    tc = get_language("python").toolchain
    if tc.available:
        return tc.paths["python"]
    return os.path.realpath(getattr(sys, "_base_executable", sys.executable))


def bwrap_argv(
    *,
    build_dir: Path,
    build_writable: bool,
    manifest: Path,
    roots: list[str],
    writable: list[str],
    disk_mb: int,
    tmp_mb: int,
    switch_users: bool,
    python: str,
) -> list[str]:
    argv = [shutil.which("bwrap") or "bwrap"]
    argv += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    argv += ["--die-with-parent", "--new-session"]
    if switch_users:
        argv += _caps()
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            argv += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            argv += ["--ro-bind", d, d]
    made: set[str] = set()

    def parents(path: str) -> list[str]:
        # bwrap creates missing parents of a mount point with mode 0700 (e.g. /root), which
        # the programs' uids could not traverse: create them world-traversable first.
        out = []
        for parent in reversed(Path(path).parents[:-1]):
            if str(parent) not in made and not str(parent).startswith(SYSTEM_DIRS):
                made.add(str(parent))
                out += ["--perms", "0755", "--dir", str(parent)]
        return out

    argv += ["--proc", "/proc", "--dev", "/dev"]
    argv += ["--size", str(tmp_mb << 20), "--tmpfs", "/tmp"]
    # World-writable with the sticky bit, like the host's (POSIX semaphores and shm_open).
    argv += ["--perms", "1777", "--size", str(tmp_mb << 20), "--tmpfs", "/dev/shm"]
    argv += ["--size", str(disk_mb << 20), "--tmpfs", SANDBOX_WORK]
    for r in sorted(set(roots)):  # after the tmpfs mounts, so a root under /tmp stays visible
        if os.path.isdir(r) and not r.startswith(SYSTEM_DIRS):
            argv += parents(r) + ["--ro-bind", r, r]
    argv += ["--bind" if build_writable else "--ro-bind", str(build_dir), SANDBOX_BUILD]
    for w in writable:
        argv += parents(w) + ["--bind", w, w]
    argv += ["--ro-bind", str(RUNNER), SANDBOX_RUNNER, "--ro-bind", str(manifest), SANDBOX_MANIFEST]
    argv += ["--clearenv", "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin", "--setenv", "LANG", "C.UTF-8"]
    argv += ["--chdir", "/xpl", "--", python, "-I", "-S", SANDBOX_RUNNER, SANDBOX_MANIFEST]
    return argv
