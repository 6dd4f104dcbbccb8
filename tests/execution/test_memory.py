"""Memory a program holds outside its heap counts against its memory limit.

RLIMIT_DATA bounds private heap and mmap only, and the resident set shows only pages mapped
into a page table: pages written into memfd files, shared anonymous mappings dropped with
MADV_DONTNEED, System V segments and tmpfs files (/dev/shm, /tmp) escaped both. Each hoarder
below tries to hold far more than its limit (HOARD_MB against LIMIT_MB) in one of those ways
and must end with ``memory_limit``; the host's Shmem (/proc/meminfo) must stay near the limit
while it runs and fall back after; a program with modest needs must still pass.
"""

from __future__ import annotations

import threading
import time

import pytest

from xpl.execution import Engine, Job, Limits
from xpl.languages import get_language
from tests.slow import by_toolchain

LIMIT_MB = 256
HOARD_MB = 1500
# Scratch file systems larger than the memory limit, so that the watchdog, not a full tmpfs,
# is what stops a /dev/shm or /tmp hoarder.
LIMITS = Limits(timeout_s=10.0, memory_mb=LIMIT_MB, disk_mb=2048)
# The watchdog samples every 50 ms: a program writing fast gets somewhat past the limit first.
OVERSHOOT_MB = 200

# Python hoarders, one per way of holding memory. Files and segments of 8 MiB each stay under
# the file size limit (RLIMIT_FSIZE, 16 MiB), which a single memfd could not pass.
PY_PROLOGUE = f"import ctypes, mmap, os\nCHUNK = 8 << 20\nN = {HOARD_MB} // 8\n"
PYTHON_HOARDERS = {
    # descriptors kept open, nothing mapped: the reported case
    "memfd_fds": """
fds = []
for _ in range(N):
    fd = os.memfd_create("hoard")
    for _ in range(8):
        os.write(fd, b"x" * (1 << 20))
    fds.append(fd)
print("held", 8 * len(fds), "MB")
""",
    # mapped, descriptor closed, pages dropped from the page tables (still in the file)
    "memfd_mapped": """
maps = []
for _ in range(N):
    fd = os.memfd_create("hoard")
    os.ftruncate(fd, CHUNK)
    m = mmap.mmap(fd, CHUNK)
    os.close(fd)
    m.write(b"x" * CHUNK)
    m.madvise(mmap.MADV_DONTNEED)
    maps.append(m)
print("held", 8 * len(maps), "MB")
""",
    # MAP_SHARED | MAP_ANONYMOUS is shmem too, and not in RLIMIT_DATA
    "shared_anon": """
maps = []
for _ in range(N):
    m = mmap.mmap(-1, CHUNK, flags=mmap.MAP_SHARED)
    m.write(b"x" * CHUNK)
    m.madvise(mmap.MADV_DONTNEED)
    maps.append(m)
print("held", 8 * len(maps), "MB")
""",
    # System V segments, written and detached: they live on with no process attached
    "sysv": """
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
libc.shmdt.argtypes = [ctypes.c_void_p]
libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
for i in range(N):
    shmid = libc.shmget(0, CHUNK, 0o1600)  # IPC_PRIVATE, IPC_CREAT | 0600
    assert shmid >= 0, os.strerror(ctypes.get_errno())
    addr = libc.shmat(shmid, None, 0)
    ctypes.memset(addr, 1, CHUNK)
    libc.shmdt(addr)
print("held", 8 * N, "MB")
""",
    # files in TMPDIR (the scratch tmpfs in the sandbox), closed, never mapped
    "tmpdir_files": """
for i in range(N):
    with open(os.path.join(os.environ["TMPDIR"], f"hoard{i}"), "wb") as fh:
        for _ in range(8):
            fh.write(b"x" * (1 << 20))
print("held", 8 * N, "MB")
""",
    # files in /dev/shm, closed: inside the sandbox a private, capped, counted tmpfs
    "dev_shm_files": """
for i in range(N):
    with open(f"/dev/shm/hoard{i}", "wb") as fh:
        for _ in range(8):
            fh.write(b"x" * (1 << 20))
print("held", 8 * N, "MB")
""",
}
# Only inside the sandbox: outside, TMPDIR is on the host's disk (not memory at all), and files
# left in the host's /dev/shm are the host's (neither counted nor removed, see the README).
SANDBOX_ONLY = {"tmpdir_files", "dev_shm_files"}

# Some of each kind, well under the limit, released or kept: must pass.
PYTHON_MODEST = """
fd = os.memfd_create("small")
os.write(fd, b"y" * (12 << 20))  # under the 16 MiB file size limit
m = mmap.mmap(-1, 16 << 20, flags=mmap.MAP_SHARED)
m.write(b"z" * (16 << 20))
heap = [bytearray(1 << 20) for _ in range(40)]
with open(os.path.join(os.environ["TMPDIR"], "scratch"), "wb") as fh:
    fh.write(b"w" * (8 << 20))
print("fine", os.fstat(fd).st_size >> 20, len(heap))
"""

COMPILED_HOARDERS = {
    "cpp": f"""
#include <sys/mman.h>
#include <unistd.h>
#include <cstdio>
#include <vector>
int main() {{
    std::vector<char> buf(1 << 20, 'x');
    std::vector<int> fds;
    for (int i = 0; i < {HOARD_MB} / 8; i++) {{
        int fd = memfd_create("hoard", 0);
        if (fd < 0) {{ std::perror("memfd_create"); return 1; }}
        for (int j = 0; j < 8; j++)
            if (write(fd, buf.data(), buf.size()) != (ssize_t)buf.size()) {{ std::perror("write"); return 1; }}
        fds.push_back(fd);
    }}
    std::printf("held %zu MB\\n", fds.size() * 8);
}}
""",
    "csharp": f"""
using System;
using System.Runtime.InteropServices;
class P {{
    [DllImport("libc", SetLastError = true)] static extern int memfd_create(string name, uint flags);
    [DllImport("libc", SetLastError = true)] static extern IntPtr write(int fd, byte[] buf, IntPtr count);
    static void Main() {{
        var buf = new byte[1 << 20];
        int held = 0;
        for (int i = 0; i < {HOARD_MB} / 8; i++) {{
            int fd = memfd_create("hoard", 0);
            if (fd < 0) throw new Exception("memfd_create: " + Marshal.GetLastWin32Error());
            for (int j = 0; j < 8; j++)
                if ((long)write(fd, buf, (IntPtr)buf.Length) != buf.Length) throw new Exception("write failed");
            held += 8;
        }}
        Console.WriteLine("held " + held + " MB");
    }}
}}
""",
    # No memfd_create in Java 17 without native code: files in /dev/shm, unlinked and held open
    # (counted inside the sandbox as the private /dev/shm's use, outside as held tmpfs files).
    "java": f"""
import java.io.File;
import java.io.RandomAccessFile;
import java.util.ArrayList;
import java.util.List;
public class Main {{
    public static void main(String[] args) throws Exception {{
        byte[] buf = new byte[1 << 20];
        List<RandomAccessFile> held = new ArrayList<>();
        for (int i = 0; i < {HOARD_MB} / 8; i++) {{
            File f = File.createTempFile("hoard", ".bin", new File("/dev/shm"));
            RandomAccessFile r = new RandomAccessFile(f, "rw");
            f.delete();
            for (int j = 0; j < 8; j++) r.write(buf);
            held.add(r);
        }}
        System.out.println("held " + 8 * held.size() + " MB");
    }}
}}
""",
}
COMPILED_MODEST = {
    "cpp": """
#include <sys/mman.h>
#include <unistd.h>
#include <cstdio>
#include <vector>
int main() {
    std::vector<char> heap(40 << 20, 'h');
    std::vector<char> buf(1 << 20, 'x');
    int fd = memfd_create("small", 0);
    for (int j = 0; j < 16; j++) write(fd, buf.data(), buf.size());
    std::printf("fine %d\\n", (int)heap[123]);
}
""",
    "csharp": """
using System;
using System.Runtime.InteropServices;
class P {
    [DllImport("libc")] static extern int memfd_create(string name, uint flags);
    [DllImport("libc")] static extern IntPtr write(int fd, byte[] buf, IntPtr count);
    static void Main() {
        var heap = new byte[40 << 20];
        var buf = new byte[1 << 20];
        int fd = memfd_create("small", 0);
        for (int j = 0; j < 16; j++) write(fd, buf, (IntPtr)buf.Length);
        Console.WriteLine("fine " + heap.Length);
    }
}
""",
    "java": """
import java.io.File;
import java.io.RandomAccessFile;
public class Main {
    public static void main(String[] args) throws Exception {
        byte[] heap = new byte[40 << 20];
        File f = File.createTempFile("small", ".bin", new File("/dev/shm"));
        RandomAccessFile r = new RandomAccessFile(f, "rw");
        f.delete();
        r.write(new byte[16 << 20]);
        System.out.println("fine " + heap.length);
    }
}
""",
}


def _shmem_mb() -> int:
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("Shmem:"):
                return int(line.split()[1]) // 1024
    raise AssertionError("no Shmem in /proc/meminfo")


class _ShmemPeak:
    """Samples the host's Shmem every 10 ms in the background; ``peak`` is the highest seen."""

    def __init__(self):
        self.before = self.peak = _shmem_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, _shmem_mb())

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture(scope="module")
def bare_engine():
    eng = Engine(workers=2, sandbox="none")
    yield eng
    eng.close()


@pytest.fixture(params=["sandbox", "none"])
def any_engine(request, engine, bare_engine):
    """The session's engine (bubblewrap where it works) and one without a sandbox."""
    if request.param == "sandbox":
        if not engine.sandbox.isolated:
            pytest.skip(f"no sandbox here: {engine.sandbox.detail}")
        return engine
    return bare_engine


def _check(results, expected: dict[str, str]) -> None:
    problems = []
    for res in results:
        want = expected[res.id]
        if res.status.value != want:
            problems.append(f"{res.id}: expected {want}, got {res.describe()} (peak {res.peak_rss_kb >> 10} MiB)")
        elif want == "memory_limit" and res.peak_rss_kb < LIMIT_MB << 10:
            problems.append(f"{res.id}: memory_limit with a peak of only {res.peak_rss_kb >> 10} MiB")
        if res.run_s > LIMITS.timeout_s:
            problems.append(f"{res.id}: ran {res.run_s:.1f} s")
    assert not problems, "\n".join(problems)


def test_python_hoarders_hit_the_memory_limit(any_engine):
    sandboxed = any_engine.sandbox.isolated
    jobs = [
        Job("python", PY_PROLOGUE + src, limits=LIMITS, id=name)
        for name, src in PYTHON_HOARDERS.items()
        if sandboxed or name not in SANDBOX_ONLY
    ]
    jobs.append(Job("python", PY_PROLOGUE + PYTHON_MODEST, limits=LIMITS, id="modest"))
    results = any_engine.run(jobs)
    _check(results, {j.id: "ok" if j.id == "modest" else "memory_limit" for j in jobs})
    assert results[-1].stdout.strip() == "fine 12 40"


@pytest.mark.parametrize("lang_name", by_toolchain(sorted(COMPILED_HOARDERS)))
def test_compiled_hoarders_hit_the_memory_limit(lang_name, engine):
    if not get_language(lang_name).toolchain.available:
        pytest.skip(f"{lang_name} toolchain not installed")
    jobs = [
        Job(lang_name, COMPILED_HOARDERS[lang_name], limits=LIMITS, id="hoard"),
        Job(lang_name, COMPILED_MODEST[lang_name], limits=LIMITS, id="modest"),
    ]
    results = engine.run(jobs)
    _check(results, {"hoard": "memory_limit", "modest": "ok"})
    assert results[1].stdout.startswith("fine")


def test_host_shmem_stays_bounded(any_engine):
    """While a memfd hoarder runs the host's Shmem rises by at most about the limit; once it is
    killed every page it wrote is free again (no descriptor, mapping or sandbox keeps it)."""
    job = Job("python", PY_PROLOGUE + PYTHON_HOARDERS["memfd_fds"], limits=LIMITS, id="memfd_fds")
    sampler = _ShmemPeak()
    try:
        [res] = any_engine.run([job])
    finally:
        sampler.stop()
    time.sleep(0.2)  # pages are freed as the last descriptor closes; let the kernel finish
    after = _shmem_mb()
    assert res.status.value == "memory_limit", res.describe()
    rise = sampler.peak - sampler.before
    assert rise < LIMIT_MB + OVERSHOOT_MB, f"Shmem rose by {rise} MiB (limit {LIMIT_MB} MiB)"
    # Other processes on the machine change Shmem too: allow them a little.
    assert after - sampler.before < 64, f"Shmem {sampler.before} MiB before, {after} MiB after"


LEAVE = """
import ctypes, os
if SANDBOXED:
    with open("/dev/shm/left", "wb") as fh:
        fh.write(b"x" * (12 << 20))  # under the 16 MiB file size limit
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
libc.shmdt.argtypes = [ctypes.c_void_p]
libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
shmid = libc.shmget(0, 40 << 20, 0o1600)
addr = libc.shmat(shmid, None, 0)
ctypes.memset(addr, 1, 40 << 20)
libc.shmdt(addr)
print(shmid)
"""
LOOK = """
import os
with open("/proc/sysvipc/shm") as fh:
    segments = [line.split()[1] for line in list(fh)[1:]]
print("shm files:", sorted(os.listdir("/dev/shm")) if SANDBOXED else [], "segments:", segments if SANDBOXED else [])
"""


def test_what_a_run_leaves_is_gone_before_the_next(any_engine):
    """A run that leaves a file in /dev/shm and a detached System V segment, and exits within
    its limit, passes; the next run in the same sandbox sees neither, and outside the sandbox
    the segment is gone from the host."""
    sandboxed = any_engine.sandbox.isolated
    flag = f"SANDBOXED = {sandboxed}\n"
    # one worker: both runs go to the same sandbox, one after the other
    solo = Engine(workers=1, sandbox=any_engine.sandbox.kind)
    try:
        left, look = solo.run(
            [Job("python", flag + LEAVE, limits=LIMITS, id="leave"), Job("python", flag + LOOK, limits=LIMITS, id="look")]
        )
    finally:
        solo.close()
    assert left.status.value == "ok", left.describe()
    assert look.status.value == "ok", look.describe()
    assert look.stdout.strip() == "shm files: [] segments: []"
    shmid = left.stdout.strip()
    with open("/proc/sysvipc/shm") as fh:
        host_segments = [line.split()[1] for line in list(fh)[1:]]
    assert sandboxed or shmid not in host_segments, f"segment {shmid} outlived the run"


def test_sandbox_dev_shm_is_capped(engine):
    """Inside the sandbox /dev/shm is a tmpfs of the scratch size, writable by the program."""
    if not engine.sandbox.isolated:
        pytest.skip(f"no sandbox here: {engine.sandbox.detail}")
    program = """
written = 0
try:
    with open("/dev/shm/fill", "wb") as fh:
        while True:
            fh.write(b"x" * (1 << 20))
            fh.flush()
            written += 1
except OSError as exc:
    print(written, exc.errno)
"""
    [res] = engine.run([Job("python", program, limits=Limits(timeout_s=10.0, memory_mb=LIMIT_MB, disk_mb=8, max_file_mb=64))])
    assert res.status.value == "ok", res.describe()
    written, errno = map(int, res.stdout.split())
    assert written <= 8 and errno == 28, res.stdout  # ENOSPC at the cap
