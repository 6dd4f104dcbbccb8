"""The in-sandbox runner: executes a list of untrusted commands one after the other.

The engine starts this file (standard library only, so it runs on the plain interpreter
with ``-I -S``) inside a bubblewrap sandbox, with a JSON manifest, and reads one JSON line
per finished run on its standard output. Keeping one runner alive for a whole chunk of
runs amortises the sandbox set-up (namespaces, mounts: ~15 ms) and, for Python programs,
the interpreter start-up: a Python candidate runs in a child *forked* from this runner,
which compiles and executes the candidate source as ``__main__`` exactly as ``python -I -S
file.py`` would. Ruby programs likewise run in children forked from a Ruby interpreter started
once per chunk (``RUBY_FORK_SERVER``); the runner is their child subreaper, so each becomes
the runner's own child before it starts, and is waited for, metered and killed as above.

Each run is isolated from the runner and from the other runs:

* its own session and process group, and (when the runner may switch users, i.e. it is
  root in the sandbox) its own unprivileged uid/gid, so it cannot signal the runner, and
  ``RLIMIT_NPROC`` counts only its own processes;
* rlimits on CPU seconds, data segment (heap/mmap), file size, open files, processes;
* a fresh, empty work directory (its HOME and TMPDIR), deleted afterwards; a run may ask
  for files to be put there first (``files``) and read back after it (``fetch``), and for
  its standard input to come from given bytes (``stdin``) instead of ``/dev/null``;
* a wall-clock deadline, an output cap and a memory watchdog enforced here, never trusting
  the program to exit: on any of them, and always when the main process ends, every process
  of the run is killed (background children included).

The memory watchdog (``MemoryMeter``) counts every page the run can hold, not only what is
mapped: RLIMIT_DATA bounds private heap and mmap, but pages written into a ``memfd_create``
file, a tmpfs file (``/dev/shm``, ``/tmp``), a shared anonymous mapping or a System V shared
memory segment count neither there nor, once unmapped or dropped from the page tables, in the
resident set. See ``MemoryMeter`` for what is counted where.

Not for import by the rest of xpl except for the constants below and ``main``.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import resource
import select
import shutil
import signal
import stat
import sys
import time
import types

# Imported here, once, rather than in every forked Python program: what the forked child
# needs to start and end like `python -I -S file.py` (and `math`, used by the harness).
# ``traceback`` (a third of this file's start-up) is imported by ``main`` only for chunks of
# Python programs, which print their uncaught exceptions with it; ``base64`` only when a run
# has files or input.
import builtins  # noqa: E402
import math  # noqa: E402,F401

# Harness protocol lines start a line of stdout with this prefix, then the run's nonce.
MARKER = b"@@xpl "
POLL_S = 0.02
WATCHDOG_S = 0.05
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def _limit(res: int, value: int) -> None:
    try:
        resource.setrlimit(res, (value, value))
    except (ValueError, OSError):
        # A hard limit below the requested value cannot be raised: keep the stricter one.
        soft, hard = resource.getrlimit(res)
        if hard != resource.RLIM_INFINITY and hard < value:
            resource.setrlimit(res, (hard, hard))


def _limit_values(lim: dict) -> dict:
    """The rlimits a run gets, from its ``limits``: CPU seconds (whole, at least 1), data and
    file size in bytes, open files, and processes (None: not limited). The one place both ways
    of starting a program (``_child`` and the Ruby fork server) take them from."""
    return {
        "cpu": max(1, int(lim["cpu_s"] + 0.999)),
        "data": lim["memory_mb"] << 20,
        "fsize": lim["file_mb"] << 20,
        "nofile": lim["open_files"],
        "nproc": lim.get("nproc") or None,
    }


def _child(run: dict, ident: dict, workdir: str, out_w: int, err_w: int, nonce: str, stdin_fd: int | None) -> None:
    """In the forked child: confine, then exec (never returns). ``stdin_fd``: the file its
    standard input reads (None: ``/dev/null``)."""
    try:
        os.setsid()
        lim = _limit_values(run["limits"])
        resource.setrlimit(resource.RLIMIT_CPU, (lim["cpu"], lim["cpu"] + 1))
        _limit(resource.RLIMIT_DATA, lim["data"])
        _limit(resource.RLIMIT_FSIZE, lim["fsize"])
        _limit(resource.RLIMIT_NOFILE, lim["nofile"])
        _limit(resource.RLIMIT_CORE, 0)
        if lim["nproc"]:
            _limit(resource.RLIMIT_NPROC, lim["nproc"])
        if ident.get("uid") is not None:
            os.setgroups([])
            os.setgid(ident["gid"])
            os.setuid(ident["uid"])  # drops every capability
        os.chdir(run.get("cwd") or workdir)
        os.dup2(os.open(os.devnull, os.O_RDONLY) if stdin_fd is None else stdin_fd, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        os.closerange(3, 65536)
        env = _run_env(run, workdir, nonce)
        if run.get("python_inline"):
            _exec_python(run["python_inline"], env)
        os.execve(run["argv"][0], run["argv"], env)
    except BaseException:  # noqa: BLE001 - report anything, then die
        try:
            import traceback

            os.write(2, ("xpl runner: could not start program: " + traceback.format_exc()).encode())
        finally:
            os._exit(127)


def _run_env(run: dict, workdir: str, nonce: str) -> dict:
    env = dict(run.get("env") or {})
    env.setdefault("HOME", workdir)
    env.setdefault("TMPDIR", workdir)
    env["XPL_NONCE"] = nonce
    return env


# The Ruby fork server: started once per chunk (``ruby <flags> -e SOURCE REQ REP``), it reads
# one request per line (fields base64, space-separated; see ``_RubyServer.start``) and answers
# ``P <pid>`` or ``E <why>``. Per request it forks twice: the intermediate child forks the
# program's process and exits, so that the program is re-parented to the runner (a child
# subreaper) which then waits for it, meters and kills it exactly as a program it forked
# itself. The program's process confines itself as ``_child`` does (session, rlimits, uid,
# directory, descriptors, environment), then ``load``s the file as the main program.
# Nothing here may be visible to the program: no ``require`` (a program that uses ``JSON``
# or ``Socket`` without requiring it must fail as under ``ruby main.rb``), no constants,
# methods or global variables; the locals of ``-e`` are not visible to a ``load``ed file.
# The runner's pipes reach the server as ``/proc/<runner>/fd/<n>`` (no socket library).
RUBY_FORK_SERVER = r"""
rq = IO.new(Integer(ARGV[0]), "r")
rp = IO.new(Integer(ARGV[1]), "w")
ARGV.clear
rp.sync = true
lim = lambda do |res, value|
  begin
    Process.setrlimit(res, value, value)
  rescue SystemCallError, ArgumentError
    _soft, hard = Process.getrlimit(res)
    Process.setrlimit(res, hard, hard) if hard != Process::RLIM_INFINITY && hard < value
  end
end
while (line = rq.gets)
  f = line.chomp.split(/ /, -1).map { |x| x.unpack1("m0") }
  path, cwd, uid, gid, cpu, data, fsize, nofile, nproc, rpid, ofd, efd, ifd = f[0, 13]
  env = {}
  out = err = inp = nil
  f[13..].each { |kv| k, v = kv.split("=", 2); env[k] = v }
  begin
    # IO, not File, objects: STDOUT.reopen(a File) would make STDOUT a File.
    out = IO.new(IO.sysopen("/proc/#{rpid}/fd/#{ofd}", File::WRONLY), "w")
    err = IO.new(IO.sysopen("/proc/#{rpid}/fd/#{efd}", File::WRONLY), "w")
    inp = IO.new(IO.sysopen(ifd.empty? ? "/dev/null" : "/proc/#{rpid}/fd/#{ifd}", File::RDONLY), "r")
  rescue SystemCallError => e
    [out, err].each { |io| io&.close }
    rp.write("E #{e.message.tr("\n", " ")}\n")
    next
  end
  r, w = IO.pipe
  mid = fork do
    r.close
    me = Process.pid
    pid = fork do
      begin
        rq.close
        rp.close
        w.close
        Process.setsid
        Process.setrlimit(:CPU, Integer(cpu), Integer(cpu) + 1)
        lim.call(:DATA, Integer(data))
        lim.call(:FSIZE, Integer(fsize))
        lim.call(:NOFILE, Integer(nofile))
        lim.call(:CORE, 0)
        lim.call(:NPROC, Integer(nproc)) unless nproc.empty?
        unless uid.empty?
          Process.groups = []
          Process::GID.change_privilege(Integer(gid))
          Process::UID.change_privilege(Integer(uid))
        end
        Dir.chdir(cwd)
        STDIN.reopen(inp)
        STDOUT.reopen(out)
        STDERR.reopen(err)
        STDERR.sync = true
        [inp, out, err].each(&:close)
        ENV.replace(env)
        $0 = path
        # Start once the runner is the parent (the intermediate exits at once), as when exec'd.
        2000.times { break if Process.ppid != me; sleep(0.0001) }
      rescue Exception => e
        STDERR.write("xpl runner: could not start program: #{e.class}: #{e.message}\n") rescue nil
        exit!(127)
      end
      begin
        load(path)
      rescue Exception => e
        bt = e.backtrace
        k = bt && bt.index { |l| l.start_with?("-e:") }
        if k == 0 && e.is_a?(SyntaxError)
          STDERR.write(e.message + "\n")  # the file does not parse: as `ruby main.rb` says it
          exit!(1)
        end
        if k
          bt = bt[0...k]
          bt[-1] = bt[-1].sub("in `<top (required)>'", "in `<main>'") unless bt.empty?
          e.set_backtrace(bt)
        end
        raise
      end
    end
    w.write("#{pid}\n")
    exit!(0)
  end
  w.close
  pid = r.read.to_i
  r.close
  Process.wait(mid)
  [inp, out, err].each(&:close)
  rp.write(pid > 0 ? "P #{pid}\n" : "E fork failed\n")
end
"""


class _RubyServer:
    """The chunk's Ruby fork server (``RUBY_FORK_SERVER``) for one interpreter and start-up
    environment; ``start`` returns the pid of a program's process, a child of this runner,
    or None when the server cannot start it (the run is then exec'd as usual)."""

    current: "_RubyServer | None" = None

    def __init__(self, key: tuple, argv: list[str], env: dict, cwd: str):
        import subprocess

        self.key = key
        req_r, self.req_w = os.pipe()
        self.rep_r, rep_w = os.pipe()
        _set_subreaper()
        self.proc = subprocess.Popen(
            [*argv, "-e", RUBY_FORK_SERVER, str(req_r), str(rep_w)],
            env=env,
            cwd=cwd,
            pass_fds=(req_r, rep_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        os.close(req_r)
        os.close(rep_w)
        self.reply = b""
        self.dead = False

    @classmethod
    def get(cls, run: dict, env: dict, work_root: str) -> "_RubyServer | None":
        # What the interpreter reads at start-up (flags, RUBYLIB, RUBYOPT, the locale...) must
        # be the program's: one server per interpreter command line and environment, less the
        # variables that differ per run and that Ruby reads only when asked.
        start_env = {k: v for k, v in env.items() if k not in ("HOME", "TMPDIR", "XPL_NONCE")}
        key = (tuple(run["argv"][:-1]), tuple(sorted(start_env.items())))
        server = cls.current
        if server is not None and (server.key != key or server.dead):
            server.close()
            server = cls.current = None
        if server is None:
            try:
                server = cls.current = cls(key, run["argv"][:-1], start_env, work_root)
            except OSError:
                return None
        return server

    def start(self, run: dict, ident: dict, workdir: str, env: dict, out_w: int, err_w: int, stdin_fd: int | None) -> int | None:
        lim = _limit_values(run["limits"])
        uid = ident.get("uid")
        fields = [
            run["ruby_inline"],
            run.get("cwd") or workdir,
            "" if uid is None else str(uid),
            "" if uid is None else str(ident["gid"]),
            str(lim["cpu"]),
            str(lim["data"]),
            str(lim["fsize"]),
            str(lim["nofile"]),
            str(lim["nproc"]) if lim["nproc"] else "",
            str(os.getpid()),
            str(out_w),
            str(err_w),
            "" if stdin_fd is None else str(stdin_fd),
            *(f"{k}={v}" for k, v in env.items()),
        ]
        import base64

        line = b" ".join(base64.b64encode(x.encode("utf-8", "surrogateescape")) for x in fields) + b"\n"
        # A server that died must cost this run its fork, not the runner its life (SIGPIPE).
        sigpipe = signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        try:
            os.write(self.req_w, line)
            answer = self._read_line(deadline=time.monotonic() + 10)
        except OSError:
            answer = None
        finally:
            signal.signal(signal.SIGPIPE, sigpipe)
        if answer is None:
            self.dead = True
            return None
        if answer.startswith(b"P "):
            return int(answer[2:])
        return None

    def _read_line(self, deadline: float) -> bytes | None:
        while b"\n" not in self.reply:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.rep_r], [], [], left)[0]:
                return None
            data = os.read(self.rep_r, 4096)
            if not data:
                return None
            self.reply += data
        line, self.reply = self.reply.split(b"\n", 1)
        return line

    def close(self) -> None:
        for fd in (self.req_w, self.rep_r):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5)
        except Exception:  # noqa: BLE001 - it must not outlive the chunk
            self.proc.kill()
            self.proc.wait()


def _set_subreaper() -> None:
    """Make this runner the reaper of its descendants' orphans (``PR_SET_CHILD_SUBREAPER``),
    so that a program the Ruby server forks becomes this runner's child."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(36, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def _exec_python(path: str, env: dict) -> None:
    """Run a Python source as ``__main__`` in this (forked) interpreter; exit like Python does."""
    os.environ.clear()
    os.environ.update(env)
    sys.argv = [path]
    # Standard input as `python file.py` has it in a UTF-8 locale (fd 0 is the run's input).
    sys.stdin = os.fdopen(0, "r", encoding="utf-8", errors="surrogateescape", closefd=False)
    # The runner's own stdout object now points at the program's pipe (fd 1 was replaced).
    sys.stdout = os.fdopen(1, "w", buffering=-1, encoding="utf-8", errors="backslashreplace", closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)
    import traceback  # imported before the fork by `main` (a chunk of Python programs)

    code = 0
    try:
        with open(path, "rb") as fh:
            source = fh.read()
        compiled = compile(source, path, "exec", dont_inherit=True)
        main = types.ModuleType("__main__")
        main.__dict__.update({"__file__": path, "__builtins__": builtins, "__cached__": None})
        sys.modules["__main__"] = main
        exec(compiled, main.__dict__)
    except SystemExit as exc:
        code = _exit_status(exc)
    except BaseException as exc:  # noqa: BLE001 - an uncaught exception: print it as Python would
        tb = exc.__traceback__
        # Hide this function's frame so the traceback starts in the program.
        traceback.print_exception(type(exc), exc, tb.tb_next if tb and tb.tb_next else tb)
        code = 1
    try:
        threading = sys.modules.get("threading")  # as at interpreter exit: only if imported
        if threading is not None and hasattr(threading, "_shutdown"):
            threading._shutdown()  # join non-daemon threads
        atexit._run_exitfuncs()
    except SystemExit as exc:
        code = _exit_status(exc)
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001 - e.g. a closed pipe
            pass
    os._exit(code)


def _exit_status(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code & 0xFF
    print(exc.code, file=sys.stderr)
    return 1


class Tail:
    """The last ``keep`` bytes of a stream, plus its total size."""

    def __init__(self, keep: int):
        self.keep = keep
        self.buf = bytearray()
        self.total = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        self.buf += data
        if len(self.buf) > 2 * self.keep:
            del self.buf[: len(self.buf) - self.keep]

    def text(self) -> str:
        return bytes(self.buf[-self.keep :]).decode("utf-8", "replace") if self.keep else ""


def _procs(uid: int | None, sid: int) -> list[tuple[int, int]]:
    """(pid, resident pages) of the run's live processes: all of its uid, or all in its session."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat_line = fh.read()
            fields = stat_line[stat_line.rindex(b")") + 2 :].split()
            if uid is not None:
                if os.stat(f"/proc/{name}").st_uid != uid:
                    continue
            elif int(fields[3]) != sid:  # field 6 of stat: session id
                continue
            if fields[0] == b"Z":
                continue  # a zombie holds no resources; its parent (or we) will reap it
            found.append((int(name), int(fields[21])))
        except (OSError, ValueError, IndexError):
            continue  # the process ended while we looked
    return found


def _private_kb(pid: int, rss_pages: int) -> int:
    """The process's proportional set size less its shared-memory (shmem) pages.

    PSS: pages shared by forked processes count once in total, so a program that forks is
    not charged N times for the same memory (plain RSS would). Shmem pages (memfd, tmpfs,
    shared anonymous, System V) are left out here because ``MemoryMeter`` counts each such
    object whole, mapped or not; counting their mapped pages here too would count them twice.
    """
    pss = shmem = None
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            for line in fh:
                if line.startswith(b"Pss:"):
                    pss = int(line.split()[1])
                elif line.startswith(b"Pss_Shmem:"):  # absent before Linux 5.x: then
                    shmem = int(line.split()[1])  # mapped shmem counts twice (errs high)
    except (OSError, ValueError, IndexError):
        pass
    if pss is None:
        return rss_pages * PAGE_KB
    return pss - (shmem or 0)


def _unescape(path: str) -> str:
    """A path from /proc/self/mountinfo, where space, tab, newline and backslash are octal escapes."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def _mounts() -> list[tuple[int, str, str, str, bool]]:
    """(device, mount point, root within its file system, type, writable) per mount we see."""
    found = []
    try:
        with open("/proc/self/mountinfo") as fh:
            for line in fh:
                left, _, right = line.partition(" - ")
                f, r = left.split(), right.split()
                if len(f) < 6 or not r:
                    continue
                major, minor = f[2].split(":")
                writable = f[5].split(",")[0] == "rw"
                found.append((os.makedev(int(major), int(minor)), _unescape(f[4]), _unescape(f[3]), r[0], writable))
    except OSError:
        pass
    return found


_SHM_DEV: list[int | None] = []


def _shm_dev() -> int | None:
    """The device of the kernel's internal shmem mount, on which every memfd, shared anonymous
    mapping and System V segment lives (found once, by making an empty memfd)."""
    if not _SHM_DEV:
        dev = None
        try:
            fd = os.memfd_create("xpl-probe", os.MFD_CLOEXEC)
            try:
                dev = os.fstat(fd).st_dev
            finally:
                os.close(fd)
        except (AttributeError, OSError):
            pass
        _SHM_DEV.append(dev)
    return _SHM_DEV[0]


def _sysv_segments() -> list[tuple[int, int, int]]:
    """(shmid, creator pid, bytes held in RAM or swap) per System V shared memory segment of
    our IPC namespace, from /proc/sysvipc/shm."""
    found = []
    try:
        with open("/proc/sysvipc/shm") as fh:
            next(fh, None)  # the header
            for line in fh:
                f = line.split()
                # key shmid perms size cpid lpid nattch uid gid cuid cgid atime dtime ctime rss swap
                held = int(f[14]) + int(f[15]) if len(f) >= 16 else int(f[3])
                found.append((int(f[1]), int(f[4]), held))
    except (OSError, ValueError, IndexError, StopIteration):
        pass
    return found


def _remove_segments(ids: list[int], uid: int | None) -> None:
    """Remove System V segments (IPC_RMID). Only their owner or creator may, and the runner
    lacks CAP_SYS_ADMIN: when the run had its own uid, do it from a child that takes it."""
    if not ids:
        return
    import ctypes  # only here: most runs leave no segment

    def remove() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        for shmid in ids:
            libc.shmctl(ctypes.c_int(shmid), ctypes.c_int(0), None)  # 0: IPC_RMID

    if uid is None or os.geteuid() == uid:
        remove()
        return
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            remove()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


class MemoryMeter:
    """The memory one run holds, in KiB, measured by the watchdog every ``WATCHDOG_S``.

    The sum of:

    * per process, its PSS less its shmem pages (``_private_kb``): heap, stacks, private
      mappings, page-table-resident file pages;
    * every shmem object any of its processes holds, once (deduplicated by device and inode),
      at its allocated size (``st_blocks``): memfd files and files on a tmpfs that is not one of
      the scratch mounts below, held by an open descriptor (``/proc/PID/fd``) or by a mapping
      (``/proc/PID/maps``, including shared anonymous mappings), whether or not its pages are in
      any page table. A mapped object whose size cannot be read (``/proc/PID/map_files`` needs
      privileges the runner has as root, not otherwise) counts at the size of its mapping;
    * inside the sandbox, the growth since the run started of every writable tmpfs the sandbox
      made for itself (its root, ``/dev``, ``/dev/shm``, ``/tmp``, the scratch work file
      system): files there count whether or not anything holds them open. Outside a sandbox
      those file systems are the host's, shared with other processes: not counted (files the
      program leaves in the host's /dev/shm are neither counted nor removed);
    * System V shared memory segments: inside the sandbox every segment of its private IPC
      namespace; outside, those created during the run by a process seen in it. They outlive
      their creator, so ``release`` removes them after the run.

    Killing every process of the run closes its descriptors and mappings, which frees its
    memfd and unlinked tmpfs files; the runner then wipes the scratch directories and
    ``release`` removes the segments, so nothing the run held survives it.
    """

    def __init__(self, work_root: str):
        self.shm_dev = _shm_dev()
        mounts = _mounts()
        # Inside bwrap the scratch work directory is a tmpfs mount of its own; outside it is a
        # directory on the host's file system. That is how the runner knows where it is.
        self.sandboxed = any(mp == work_root and kind == "tmpfs" for _, mp, _, kind, _ in mounts)
        tmpfs = {dev: mp for dev, mp, root, kind, rw in mounts if kind in ("tmpfs", "devtmpfs")}
        # The sandbox's own writable tmpfs mounts: whole file systems (root "/"), and the new
        # root. A host directory bound into the sandbox shows its path as its root: not ours.
        self.scratch: dict[int, str] = {}
        if self.sandboxed:
            for dev, mp, root, kind, rw in mounts:
                if kind == "tmpfs" and rw and (root == "/" or mp == "/") and dev not in self.scratch:
                    self.scratch[dev] = mp
        self.base = {dev: self._used(mp) for dev, mp in self.scratch.items()}
        # Devices whose files are counted one by one, wherever a process of the run holds them.
        self.object_devs = {dev for dev in tmpfs if dev not in self.scratch}
        if self.shm_dev is not None:
            self.object_devs.add(self.shm_dev)
        self.seen_pids: set[int] = set()  # every process of the run seen so far
        self.segments_before = set() if self.sandboxed else {s for s, _, _ in _sysv_segments()}

    @staticmethod
    def _used(mount_point: str) -> int:
        try:
            st = os.statvfs(mount_point)
            return (st.f_blocks - st.f_bfree) * st.f_frsize
        except OSError:
            return 0

    def _segments(self) -> list[tuple[int, int]]:
        """(shmid, bytes) of the System V segments that belong to this run."""
        return [
            (shmid, held)
            for shmid, cpid, held in _sysv_segments()
            if self.sandboxed or (shmid not in self.segments_before and cpid in self.seen_pids)
        ]

    def measure(self, procs: list[tuple[int, int]]) -> int:
        objects: dict[tuple[int, int], int] = {}  # (device, inode) -> bytes allocated
        private_kb = 0
        for pid, rss_pages in procs:
            self.seen_pids.add(pid)
            private_kb += _private_kb(pid, rss_pages)
            self._held_files(pid, objects)
            self._mapped_objects(pid, objects)
        scratch = sum(max(0, self._used(mp) - self.base[dev]) for dev, mp in self.scratch.items())
        segments = sum(held for _, held in self._segments())
        return private_kb + (sum(objects.values()) + scratch + segments) // 1024

    def _held_files(self, pid: int, objects: dict[tuple[int, int], int]) -> None:
        """Shmem files the process holds open (a memfd's descriptor reads as "/memfd:NAME")."""
        base = f"/proc/{pid}/fd"
        try:
            names = os.listdir(base)
        except OSError:
            return
        for name in names:
            try:
                st = os.stat(f"{base}/{name}")  # follows the link to the open file itself
            except OSError:
                continue  # closed meanwhile, or a descriptor of something with no inode
            if st.st_dev in self.object_devs and stat.S_ISREG(st.st_mode):
                objects[(st.st_dev, st.st_ino)] = st.st_blocks * 512

    def _mapped_objects(self, pid: int, objects: dict[tuple[int, int], int]) -> None:
        """Shmem objects the process maps (possibly with no descriptor left open)."""
        try:
            with open(f"/proc/{pid}/maps", "rb") as fh:
                data = fh.read()
        except OSError:
            return
        for line in data.splitlines():
            # start-end perms offset major:minor inode [path]; private anonymous memory has no
            # path, and is counted in the PSS
            parts = line.split(None, 5)
            if len(parts) < 6:
                continue
            try:
                major, minor = parts[3].split(b":")
                dev = os.makedev(int(major, 16), int(minor, 16))
                if dev not in self.object_devs or parts[5].startswith(b"/SYSV"):
                    continue  # not shmem, or a System V segment: counted from /proc/sysvipc
                key = (dev, int(parts[4]))
                if key in objects:
                    continue
                span = parts[0].decode()
                try:
                    size = os.stat(f"/proc/{pid}/map_files/{span}").st_blocks * 512
                except OSError:
                    low, high = span.split("-")
                    size = int(high, 16) - int(low, 16)
                objects[key] = size
            except ValueError:
                continue

    def release(self, uid: int | None) -> None:
        """After the run (all its processes dead): remove the segments it left."""
        _remove_segments([shmid for shmid, _ in self._segments()], uid)


def _kill_all(uid: int | None, sid: int) -> None:
    """Kill every process of the run, including children that left its process group."""
    for _ in range(200):
        left = _procs(uid, sid)
        if not left:
            return
        if uid is not None:
            # Signal everything this uid may signal, as that uid: this also reaches processes
            # forked after /proc was read (they inherit the uid).
            pid = os.fork()
            if pid == 0:
                try:
                    os.setgroups([])
                    os.setgid(uid)
                    os.setuid(uid)
                    os.kill(-1, signal.SIGKILL)
                finally:
                    os._exit(0)
            os.waitpid(pid, 0)
        else:
            try:
                os.killpg(sid, signal.SIGKILL)
            except OSError:
                pass
        for pid, _ in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.002)


def _reap_zombies() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


class _Marks:
    """The harness protocol lines of one run's stdout: each line that starts with ``prefix``
    (``@@xpl <nonce> ``), without it, in order. The engine judges them (``verdict.judge``)."""

    def __init__(self, prefix: bytes):
        self.prefix = prefix
        self.partial = b""  # the current line so far, when it may still be a protocol line
        self.at_start = True  # the next byte starts a line
        self.lines: list[str] = []

    def feed(self, data: bytes) -> None:
        start = 0
        while start < len(data):
            end = data.find(b"\n", start)
            piece = data[start:] if end < 0 else data[start:end]
            if self.at_start or self.partial:
                line = self.partial + piece
                # Keep only what may still become a protocol line (bounded by the output limit).
                keep = line.startswith(self.prefix) or self.prefix.startswith(line)
                self.partial = line if keep else b""
                if end >= 0 and keep:
                    self._take(line)
            if end < 0:
                self.at_start = False
                return
            self.partial, self.at_start, start = b"", True, end + 1

    def _take(self, line: bytes) -> None:
        if line.startswith(self.prefix):
            self.lines.append(line[len(self.prefix) :].decode("utf-8", "surrogateescape"))

    def finish(self) -> list[str]:
        if self.partial:
            self._take(self.partial)  # a last line without its newline
            self.partial = b""
        return self.lines


def _relative(path: object) -> str:
    """``path`` when it names a place inside a directory (relative, no ``..``), else ValueError."""
    if not isinstance(path, str) or not path or "\0" in path or os.path.isabs(path) or ".." in path.split("/"):
        raise ValueError(f"not a relative path inside the work directory: {path!r}")
    return os.path.normpath(path)


def _put_files(workdir: str, files: list, uid: int | None, gid: int | None) -> None:
    """Write the run's input files (``[path, base64 content]``) into its work directory, owned
    by the run's uid so that the program may change them as its own."""
    import base64

    for rel, content in files:
        target = os.path.join(workdir, _relative(rel))
        parent = os.path.dirname(target)
        made = []
        while not os.path.isdir(parent):
            made.append(parent)
            parent = os.path.dirname(parent)
        for d in reversed(made):
            os.mkdir(d, 0o700)
            if uid is not None:
                os.chown(d, uid, gid)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(base64.b64decode(content))
        if uid is not None:
            os.chown(target, uid, gid)


def _stdin_file(work_root: str, content: str) -> int:
    """A read-only descriptor of a file holding the run's standard input (base64 ``content``),
    already unlinked: nothing of it is left once the run ends."""
    import base64

    path = os.path.join(work_root, "stdin-" + os.urandom(4).hex())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(base64.b64decode(content))
    reader = os.open(path, os.O_RDONLY)
    os.unlink(path)
    return reader


def _fetch_files(workdir: str, paths: list, cap: int) -> dict:
    """The files of ``paths`` that the run left in its work directory (all its processes are
    dead by now), base64-encoded: regular files only, never through a symbolic link that
    leads out of it, at most ``cap`` bytes each. Missing ones are left out."""
    import base64

    root = os.path.realpath(workdir)
    found = {}
    for rel in paths:
        target = os.path.join(workdir, _relative(rel))
        if not os.path.realpath(target).startswith(root + os.sep):
            continue
        try:
            fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            continue
        with os.fdopen(fd, "rb") as fh:
            found[rel] = base64.b64encode(fh.read(cap)).decode("ascii")
    return found


def execute(run: dict, ident: dict, work_root: str) -> dict:
    lim = run["limits"]
    uid = ident.get("uid")
    sweep = uid if ident.get("sweep_uid", True) else None  # whose processes belong to the run
    nonce = os.urandom(6).hex()
    workdir = os.path.join(work_root, "w" + os.urandom(4).hex())
    os.mkdir(workdir, 0o700)
    if uid is not None:
        os.chown(workdir, uid, ident["gid"])
    _put_files(workdir, run.get("files") or [], uid, ident.get("gid"))
    stdin_fd = _stdin_file(work_root, run["stdin"]) if run.get("stdin") is not None else None
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    # Before the fork, and after the input files: what exists now is not the run's.
    meter = MemoryMeter(work_root)
    sys.stdout.flush()
    start = time.monotonic()
    pid = None
    if run.get("ruby_inline") and os.path.isabs(run["ruby_inline"]) and run["argv"][-1] == run["ruby_inline"]:
        env = _run_env(run, workdir, nonce)
        server = _RubyServer.get(run, env, work_root)
        if server is not None:
            pid = server.start(run, ident, workdir, env, out_w, err_w, stdin_fd)
    if pid is None:
        pid = os.fork()
        if pid == 0:
            os.close(out_r)
            os.close(err_r)
            _child(run, ident, workdir, out_w, err_w, nonce, stdin_fd)
    os.close(out_w)
    os.close(err_w)
    if stdin_fd is not None:
        os.close(stdin_fd)
    keep = run.get("keep_bytes", 4096)
    tails = {out_r: Tail(keep), err_r: Tail(keep)}
    marks = _Marks(MARKER + nonce.encode() + b" ")
    flags = {"timed_out": False, "output_exceeded": False, "memory_exceeded": False}
    status = None
    rusage = None
    deadline = start + lim["timeout_s"]
    # The first look is one period in: before that the child is this runner's copy on its
    # way to exec, and a run that ends sooner is measured by its rusage.
    next_watch = start + WATCHDOG_S
    open_fds = [out_r, err_r]
    peak_rss = 0
    meter.seen_pids.add(pid)
    swept = False  # every process of the run has been killed after the main one ended
    while open_fds:
        now = time.monotonic()
        if status is None:
            got, st, ru = os.wait4(pid, os.WNOHANG)
            if got:
                status, rusage = st, ru
                _kill_all(sweep, pid)  # the main process ended: nothing of the run may outlive it
                swept = True
        if status is None and now >= deadline:
            flags["timed_out"] = True
            _kill_all(sweep, pid)
        if now >= next_watch:
            next_watch = now + WATCHDOG_S
            held = meter.measure(_procs(sweep, pid))
            peak_rss = max(peak_rss, held)
            if held > lim["memory_mb"] * 1024 and status is None:
                flags["memory_exceeded"] = True
                _kill_all(sweep, pid)
        ready, _, _ = select.select(open_fds, [], [], POLL_S)
        for fd in ready:
            data = os.read(fd, 65536)
            if not data:
                open_fds.remove(fd)
                os.close(fd)
                continue
            tails[fd].add(data)
            if fd == out_r:
                marks.feed(data)
            if tails[out_r].total + tails[err_r].total > lim["output_bytes"] and not flags["output_exceeded"]:
                flags["output_exceeded"] = True
                _kill_all(sweep, pid)
        if status is None and not open_fds:
            # Pipes closed but the process lives on (it closed its stdout): wait for it.
            # Usually the pipes close because it exited a moment ago: poll fast, then back off.
            pause = 0.0002
            while status is None and time.monotonic() < deadline:
                got, st, ru = os.wait4(pid, os.WNOHANG)
                if got:
                    status, rusage = st, ru
                    break
                time.sleep(pause)
                pause = min(pause * 2, POLL_S)
            if status is None:
                flags["timed_out"] = True
            _kill_all(sweep, pid)
    if status is None:
        _, status, rusage = os.wait4(pid, 0)
    wall = time.monotonic() - start
    if not swept:
        _kill_all(sweep, pid)
    _reap_zombies()
    meter.release(uid)
    disk_full = False
    try:
        st = os.statvfs(work_root)
        disk_full = st.f_bavail * st.f_frsize < 64 * 1024
    except OSError:
        pass
    fetched = _fetch_files(workdir, run["fetch"], lim["file_mb"] << 20) if run.get("fetch") else None
    shutil.rmtree(workdir, ignore_errors=True)
    for extra in run.get("wipe", []):  # e.g. the sandbox's shared /tmp
        for name in os.listdir(extra):
            p = os.path.join(extra, name)
            shutil.rmtree(p, ignore_errors=True) if os.path.isdir(p) and not os.path.islink(p) else os.unlink(p)
    return {
        "id": run["id"],
        "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        **flags,
        "disk_full": disk_full,
        "wall_s": round(wall, 4),
        "cpu_s": round(rusage.ru_utime + rusage.ru_stime, 4) if rusage else None,
        "peak_rss_kb": max(peak_rss, rusage.ru_maxrss if rusage else 0),
        "stdout": tails[out_r].text(),
        "stderr": tails[err_r].text(),
        "output_bytes": tails[out_r].total + tails[err_r].total,
        "marks": marks.finish(),
        **({"fetched": fetched} if fetched is not None else {}),
    }


def main(argv: list[str]) -> int:
    with open(argv[1]) as fh:
        manifest = json.load(fh)
    if any(run.get("python_inline") for run in manifest["runs"]):
        __import__("traceback")  # once, rather than in each forked program that raises
    ident = {"uid": manifest.get("uid"), "gid": manifest.get("gid"), "sweep_uid": manifest.get("sweep_uid", True)}
    out = sys.stdout
    for run in manifest["runs"]:
        try:
            result = execute(run, ident, manifest["work_root"])
        except Exception:  # noqa: BLE001 - report a runner fault for this run, go on
            import traceback

            result = {"id": run["id"], "runner_error": traceback.format_exc()}
        out.write(json.dumps(result) + "\n")
        out.flush()
        if manifest.get("stop_on_failure") and (result.get("exit_code") != 0 or result.get("runner_error")):
            break
    if _RubyServer.current is not None:
        _RubyServer.current.close()
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main(sys.argv))
