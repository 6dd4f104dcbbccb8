"""Hostile programs, per PL, for the sandbox tests.

Tokens replaced before running: @PORT@ (a TCP port the test listens on, on the host's
loopback), @PLANTED@ (a file outside the work dir the program tries to overwrite),
@SECRET@ (a file outside the work dir the program tries to read), @MARKER@ (a string in the
command line of a background process the program leaves behind).
"""

# attack -> set of acceptable statuses
EXPECTED = {
    "fork_bomb": {"timeout", "runtime_error"},
    "infinite_loop": {"timeout"},
    "memory_hog": {"memory_limit"},
    "disk_filler": {"output_limit"},
    "big_output": {"output_limit"},
    "network": {"runtime_error"},
    "write_outside": {"runtime_error"},
    "read_outside": {"runtime_error"},
    "kill_parent": {"ok"},
    "background_child": {"ok"},
}

PROGRAMS = {
    "python": {
        "fork_bomb": """
import os, time
while True:
    try:
        os.fork()
    except OSError:
        time.sleep(0.001)
""",
        "infinite_loop": "while True:\n    pass\n",
        "memory_hog": "x = []\nwhile True:\n    x.append(bytearray(10**7))\n",
        "disk_filler": """
i = 0
while True:
    with open(f"f{i}", "wb") as fh:
        fh.write(b"x" * (2 << 20))
    i += 1
""",
        "big_output": "import sys\nwhile True:\n    sys.stdout.write('x' * 1000 + '\\n')\n",
        "network": """
import socket
socket.create_connection(("127.0.0.1", @PORT@), timeout=2).close()
print("CONNECTED")
""",
        "write_outside": "open('@PLANTED@', 'w').write('pwned')\n",
        "read_outside": "print(open('@SECRET@').read())\n",
        "kill_parent": """
import os, signal
try:
    os.kill(os.getppid(), signal.SIGKILL)
except OSError as exc:
    print("kill failed:", exc)
""",
        "background_child": """
import subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1000)", "@MARKER@"], start_new_session=True)
print("spawned")
""",
    },
    "rust": {
        "fork_bomb": """
use std::process::Command;
fn main() {
    loop {
        let _ = Command::new("/bin/sleep").arg("100").spawn();
    }
}
""",
        "infinite_loop": """
fn main() {
    let mut x: u64 = 0;
    loop {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}
""",
        "memory_hog": """
fn main() {
    let mut v: Vec<Vec<u8>> = Vec::new();
    loop {
        v.push(vec![1u8; 10_000_000]);
    }
}
""",
        "disk_filler": """
fn main() {
    let mut i = 0;
    loop {
        std::fs::write(format!("f{}", i), vec![0u8; 2 << 20]).unwrap();
        i += 1;
    }
}
""",
        "big_output": """
fn main() {
    let line = "x".repeat(1000);
    loop {
        println!("{}", line);
    }
}
""",
        "network": """
fn main() {
    std::net::TcpStream::connect(("127.0.0.1", @PORT@)).unwrap();
    println!("CONNECTED");
}
""",
        "write_outside": """
fn main() {
    std::fs::write("@PLANTED@", "pwned").unwrap();
}
""",
        "read_outside": """
fn main() {
    println!("{}", std::fs::read_to_string("@SECRET@").unwrap());
}
""",
        "kill_parent": """
fn main() {
    let ppid = std::os::unix::process::parent_id();
    let st = std::process::Command::new("kill").arg("-9").arg(ppid.to_string()).status();
    println!("kill: {:?}", st);
}
""",
        "background_child": """
use std::os::unix::process::CommandExt;
fn main() {
    std::process::Command::new("/bin/sh").arg("-c").arg("sleep 1000; : @MARKER@").process_group(0).spawn().unwrap();
    println!("spawned");
}
""",
    },
    "go": {
        "fork_bomb": """
package main

import "os/exec"

func main() {
	for {
		_ = exec.Command("/bin/sleep", "100").Start()
	}
}
""",
        "infinite_loop": """
package main

func main() {
	x := 0
	for {
		x++
	}
}
""",
        "memory_hog": """
package main

func main() {
	var s [][]byte
	for {
		b := make([]byte, 10000000)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		s = append(s, b)
	}
}
""",
        "disk_filler": """
package main

import (
	"fmt"
	"os"
)

func main() {
	for i := 0; ; i++ {
		if err := os.WriteFile(fmt.Sprintf("f%d", i), make([]byte, 2<<20), 0o644); err != nil {
			panic(err)
		}
	}
}
""",
        "big_output": """
package main

import (
	"fmt"
	"strings"
)

func main() {
	line := strings.Repeat("x", 1000)
	for {
		fmt.Println(line)
	}
}
""",
        "network": """
package main

import (
	"fmt"
	"net"
)

func main() {
	c, err := net.Dial("tcp", "127.0.0.1:@PORT@")
	if err != nil {
		panic(err)
	}
	c.Close()
	fmt.Println("CONNECTED")
}
""",
        "write_outside": """
package main

import "os"

func main() {
	if err := os.WriteFile("@PLANTED@", []byte("pwned"), 0o644); err != nil {
		panic(err)
	}
}
""",
        "read_outside": """
package main

import (
	"fmt"
	"os"
)

func main() {
	b, err := os.ReadFile("@SECRET@")
	if err != nil {
		panic(err)
	}
	fmt.Println(string(b))
}
""",
        "kill_parent": """
package main

import (
	"fmt"
	"os"
	"syscall"
)

func main() {
	fmt.Println("kill:", syscall.Kill(os.Getppid(), syscall.SIGKILL))
}
""",
        "background_child": """
package main

import (
	"fmt"
	"os/exec"
	"syscall"
)

func main() {
	cmd := exec.Command("/bin/sh", "-c", "sleep 1000; : @MARKER@")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		panic(err)
	}
	fmt.Println("spawned")
}
""",
    },
    "java": {
        "fork_bomb": """
public class Main {
    public static void main(String[] args) {
        while (true) {
            try { new ProcessBuilder("/bin/sleep", "100").start(); } catch (Exception e) { }
        }
    }
}
""",
        "infinite_loop": """
public class Main {
    public static void main(String[] args) {
        long x = 0;
        while (true) { x++; }
    }
}
""",
        "memory_hog": """
import java.util.*;
public class Main {
    public static void main(String[] args) {
        List<long[]> l = new ArrayList<>();
        while (true) { l.add(new long[1_000_000]); }
    }
}
""",
        "disk_filler": """
import java.nio.file.*;
public class Main {
    public static void main(String[] args) throws Exception {
        for (int i = 0; ; i++) { Files.write(Paths.get("f" + i), new byte[2 << 20]); }
    }
}
""",
        "big_output": """
public class Main {
    public static void main(String[] args) {
        String line = "x".repeat(1000);
        while (true) { System.out.println(line); }
    }
}
""",
        "network": """
public class Main {
    public static void main(String[] args) throws Exception {
        new java.net.Socket("127.0.0.1", @PORT@).close();
        System.out.println("CONNECTED");
    }
}
""",
        "write_outside": """
import java.nio.file.*;
public class Main {
    public static void main(String[] args) throws Exception {
        Files.writeString(Paths.get("@PLANTED@"), "pwned");
    }
}
""",
        "read_outside": """
import java.nio.file.*;
public class Main {
    public static void main(String[] args) throws Exception {
        System.out.println(Files.readString(Paths.get("@SECRET@")));
    }
}
""",
        "kill_parent": """
public class Main {
    public static void main(String[] args) throws Exception {
        long ppid = ProcessHandle.current().parent().map(ProcessHandle::pid).orElse(1L);
        int rc = new ProcessBuilder("kill", "-9", Long.toString(ppid)).start().waitFor();
        System.out.println("kill: " + rc);
    }
}
""",
        "background_child": """
public class Main {
    public static void main(String[] args) throws Exception {
        new ProcessBuilder("/usr/bin/setsid", "/bin/sh", "-c", "sleep 1000; : @MARKER@").start();
        System.out.println("spawned");
    }
}
""",
    },
    "javascript": {
        "fork_bomb": """
const cp = require("child_process");
while (true) {
  try { cp.spawn("/bin/sleep", ["100"], { detached: true, stdio: "ignore" }); } catch (e) {}
}
""",
        "infinite_loop": "let x = 0;\nwhile (true) { x++; }\n",
        "memory_hog": "const a = [];\nwhile (true) { a.push(new Array(1e6).fill(1.5)); }\n",
        "disk_filler": """
const fs = require("fs");
for (let i = 0; ; i++) { fs.writeFileSync("f" + i, Buffer.alloc(2 << 20)); }
""",
        "big_output": """
const line = "x".repeat(1000) + "\\n";
const fs = require("fs");
while (true) { fs.writeSync(1, line); }
""",
        "network": """
const net = require("net");
const s = net.connect(@PORT@, "127.0.0.1", () => { console.log("CONNECTED"); s.end(); });
""",
        "write_outside": "require('fs').writeFileSync('@PLANTED@', 'pwned');\n",
        "read_outside": "console.log(require('fs').readFileSync('@SECRET@', 'utf8'));\n",
        "kill_parent": """
try { process.kill(process.ppid, "SIGKILL"); } catch (e) { console.log("kill failed: " + e.code); }
""",
        "background_child": """
const cp = require("child_process");
cp.spawn("/bin/sh", ["-c", "sleep 1000; : @MARKER@"], { detached: true, stdio: "ignore" }).unref();
console.log("spawned");
""",
    },
    "cpp": {
        "fork_bomb": """
#include <unistd.h>
int main() {
    while (true) fork();
}
""",
        "infinite_loop": """
int main() {
    volatile long x = 0;
    while (true) x++;
}
""",
        "memory_hog": """
#include <vector>
int main() {
    std::vector<std::vector<char>> v;
    while (true) v.emplace_back(10000000, 1);
}
""",
        "disk_filler": """
#include <cstdio>
#include <string>
#include <vector>
int main() {
    std::vector<char> buf(2 << 20, 'x');
    for (int i = 0;; i++) {
        FILE* f = std::fopen(("f" + std::to_string(i)).c_str(), "wb");
        if (!f || std::fwrite(buf.data(), 1, buf.size(), f) != buf.size() || std::fclose(f) != 0) {
            std::perror("write");
            return 1;
        }
    }
}
""",
        "big_output": """
#include <iostream>
#include <string>
int main() {
    std::string line(1000, 'x');
    while (true) std::cout << line << '\\n';
}
""",
        "network": """
#include <arpa/inet.h>
#include <cstdio>
#include <sys/socket.h>
int main() {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(@PORT@);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(s, (sockaddr*)&a, sizeof a) != 0) { std::perror("connect"); return 1; }
    std::puts("CONNECTED");
}
""",
        "write_outside": """
#include <cstdio>
int main() {
    FILE* f = std::fopen("@PLANTED@", "w");
    if (!f) { std::perror("open"); return 1; }
    std::fputs("pwned", f);
    return std::fclose(f) == 0 ? 0 : 1;
}
""",
        "read_outside": """
#include <fstream>
#include <iostream>
int main() {
    std::ifstream f("@SECRET@");
    if (!f) { std::cerr << "cannot open" << std::endl; return 1; }
    std::cout << f.rdbuf() << std::endl;
}
""",
        "kill_parent": """
#include <csignal>
#include <cstdio>
#include <unistd.h>
int main() {
    int rc = kill(getppid(), SIGKILL);
    std::printf("kill: %d\\n", rc);
}
""",
        "background_child": """
#include <cstdio>
#include <unistd.h>
int main() {
    if (fork() == 0) {
        setsid();
        execl("/bin/sh", "sh", "-c", "sleep 1000; : @MARKER@", (char*)nullptr);
        _exit(127);
    }
    std::puts("spawned");
}
""",
    },
    "ruby": {
        "fork_bomb": """
loop do
  begin
    fork { sleep 100 }
  rescue StandardError
  end
end
""",
        "infinite_loop": "loop {}\n",
        "memory_hog": "a = []\nloop { a << ('x' * 10_000_000) }\n",
        "disk_filler": """
i = 0
loop do
  File.binwrite("f#{i}", "x" * (2 << 20))
  i += 1
end
""",
        "big_output": "line = 'x' * 1000\nloop { $stdout.write(line, \"\\n\") }\n",
        "network": """
require "socket"
TCPSocket.new("127.0.0.1", @PORT@).close
puts "CONNECTED"
""",
        "write_outside": "File.write('@PLANTED@', 'pwned')\n",
        "read_outside": "puts File.read('@SECRET@')\n",
        "kill_parent": """
begin
  Process.kill(:KILL, Process.ppid)
rescue StandardError => e
  puts "kill failed: #{e.class}"
end
""",
        "background_child": """
pid = spawn("/bin/sh", "-c", "sleep 1000; : @MARKER@", pgroup: true)
Process.detach(pid)
puts "spawned"
""",
    },
    "php": {
        "fork_bomb": "<?php\nwhile (true) { @exec('/bin/sleep 100 > /dev/null 2>&1 &'); }\n",
        "infinite_loop": "<?php\nwhile (true) {}\n",
        "memory_hog": "<?php\n$a = [];\nwhile (true) { $a[] = str_repeat('x', 10000000); }\n",
        "disk_filler": """<?php
for ($i = 0; ; $i++) {
    if (file_put_contents("f$i", str_repeat("x", 2 << 20)) === false) { exit(1); }
}
""",
        "big_output": "<?php\n$line = str_repeat('x', 1000);\nwhile (true) { echo $line, \"\\n\"; }\n",
        "network": """<?php
$s = fsockopen("127.0.0.1", @PORT@, $errno, $errstr, 2);
if (!$s) { fwrite(STDERR, "connect: $errstr\\n"); exit(1); }
echo "CONNECTED\\n";
""",
        "write_outside": "<?php\nif (file_put_contents('@PLANTED@', 'pwned') === false) { exit(1); }\n",
        "read_outside": "<?php\n$c = file_get_contents('@SECRET@');\nif ($c === false) { exit(1); }\necho $c;\n",
        "kill_parent": "<?php\nexec('kill -9 ' . posix_getppid() . ' 2>&1', $out, $rc);\necho \"kill: $rc\\n\";\n",
        "background_child": "<?php\nexec(\"setsid /bin/sh -c 'sleep 1000; : @MARKER@' > /dev/null 2>&1 &\");\necho \"spawned\\n\";\n",
    },
    "lua": {
        "fork_bomb": "while true do os.execute('/bin/sleep 100 > /dev/null 2>&1 &') end\n",
        "infinite_loop": "while true do end\n",
        # string.rep copies its pattern once per repetition: a 4 KiB block fills memory about
        # 8x faster (in CPU time) than 'x', so a loaded machine cannot turn this into a timeout.
        "memory_hog": "local block = string.rep('x', 4096)\nlocal t = {}\nwhile true do t[#t + 1] = string.rep(block, 2500) end\n",
        "disk_filler": """
local i = 0
while true do
  local f = assert(io.open("f" .. i, "wb"))
  assert(f:write(string.rep("x", 2 * 1024 * 1024)))
  assert(f:close())
  i = i + 1
end
""",
        "big_output": "local s = string.rep('x', 1000)\nwhile true do io.write(s, '\\n') end\n",
        # Lua's standard library has no sockets: nothing to test for the network.
        "write_outside": "local f = assert(io.open('@PLANTED@', 'w'))\nf:write('pwned')\nf:close()\n",
        "read_outside": "local f = assert(io.open('@SECRET@'))\nprint(f:read('a'))\n",
        "kill_parent": """
local f = assert(io.open("/proc/self/stat"))
local ppid = f:read("a"):match("^%d+ %b() %S+ (%d+)")
f:close()
print("kill:", os.execute("kill -9 " .. ppid .. " 2>/dev/null"))
""",
        "background_child": "os.execute(\"setsid /bin/sh -c 'sleep 1000; : @MARKER@' > /dev/null 2>&1 &\")\nprint('spawned')\n",
    },
}

# TypeScript: the JavaScript programs, type-checked (Node's globals declared, as no @types exist).
PROGRAMS["typescript"] = {
    attack: "declare var require: any;\ndeclare var process: any;\ndeclare var Buffer: any;\n" + src
    for attack, src in PROGRAMS["javascript"].items()
}


def _csharp(body: str) -> str:
    return (
        "using System;\nusing System.IO;\nusing System.Collections.Generic;\nusing System.Diagnostics;\n"
        "class P {\n    static void Main() {\n" + body + "\n    }\n}\n"
    )


PROGRAMS["csharp"] = {
    "fork_bomb": _csharp(
        'while (true) { try { Process.Start(new ProcessStartInfo("/bin/sleep", "100") { UseShellExecute = false }); } catch (Exception) { } }'
    ),
    "infinite_loop": _csharp("long x = 0;\nwhile (true) { x++; }"),
    "memory_hog": _csharp("var l = new List<long[]>();\nwhile (true) { l.Add(new long[1000000]); }"),
    "disk_filler": _csharp('for (int i = 0; ; i++) { File.WriteAllBytes("f" + i, new byte[2 << 20]); }'),
    "big_output": _csharp("var line = new string('x', 1000);\nwhile (true) { Console.WriteLine(line); }"),
    "network": _csharp('new System.Net.Sockets.TcpClient("127.0.0.1", @PORT@).Close();\nConsole.WriteLine("CONNECTED");'),
    "write_outside": _csharp('File.WriteAllText("@PLANTED@", "pwned");'),
    "read_outside": _csharp('Console.WriteLine(File.ReadAllText("@SECRET@"));'),
    "kill_parent": _csharp(
        'string stat = File.ReadAllText("/proc/self/stat");\n'
        'string ppid = stat.Substring(stat.LastIndexOf(\')\') + 2).Split(\' \')[1];\n'
        'var p = Process.Start(new ProcessStartInfo("kill", "-9 " + ppid) { UseShellExecute = false });\n'
        'p.WaitForExit();\nConsole.WriteLine("kill: " + p.ExitCode);'
    ),
    "background_child": _csharp(
        'Process.Start(new ProcessStartInfo("/usr/bin/setsid", "/bin/sh -c \\"sleep 1000; : @MARKER@\\"") { UseShellExecute = false });\n'
        'Console.WriteLine("spawned");'
    ),
}

# Memory held outside the heap, where neither RLIMIT_DATA nor the resident set sees it: pages
# written into memfd_create files whose descriptors stay open (4 MiB each, under the file size
# limit), 800 MiB in all. In the PLs where memfd_create is a plain call; tests/execution/
# test_memory.py has more ways (mappings, System V segments, tmpfs files) and other PLs.
EXPECTED["memfd_hoard"] = {"memory_limit"}
PROGRAMS["python"]["memfd_hoard"] = """
import os
fds = []
for _ in range(200):
    fd = os.memfd_create("hoard")
    for _ in range(4):
        os.write(fd, b"x" * (1 << 20))
    fds.append(fd)
print("held", 4 * len(fds), "MB")
"""
PROGRAMS["rust"]["memfd_hoard"] = """
use std::ffi::CString;
use std::fs::File;
use std::io::Write;
use std::os::raw::{c_char, c_int, c_uint};
use std::os::unix::io::FromRawFd;

extern "C" {
    fn memfd_create(name: *const c_char, flags: c_uint) -> c_int;
}

fn main() {
    let name = CString::new("hoard").unwrap();
    let chunk = vec![7u8; 1 << 20];
    let mut held = Vec::new();
    for _ in 0..200 {
        let fd = unsafe { memfd_create(name.as_ptr(), 0) };
        assert!(fd >= 0, "memfd_create failed");
        let mut f = unsafe { File::from_raw_fd(fd) };
        for _ in 0..4 {
            f.write_all(&chunk).unwrap();
        }
        held.push(f);
    }
    println!("held {} MB", 4 * held.len());
}
"""
PROGRAMS["cpp"]["memfd_hoard"] = """
#include <sys/mman.h>
#include <unistd.h>
#include <cstdio>
#include <vector>
int main() {
    std::vector<char> chunk(1 << 20, 'x');
    std::vector<int> fds;
    for (int i = 0; i < 200; i++) {
        int fd = memfd_create("hoard", 0);
        if (fd < 0) { std::perror("memfd_create"); return 1; }
        for (int j = 0; j < 4; j++)
            if (write(fd, chunk.data(), chunk.size()) != (ssize_t)chunk.size()) { std::perror("write"); return 1; }
        fds.push_back(fd);
    }
    std::printf("held %zu MB\\n", fds.size() * 4);
}
"""
PROGRAMS["csharp"]["memfd_hoard"] = """
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
class P {
    [DllImport("libc", SetLastError = true)] static extern int memfd_create(string name, uint flags);
    [DllImport("libc", SetLastError = true)] static extern IntPtr write(int fd, byte[] buf, IntPtr count);
    static void Main() {
        var chunk = new byte[1 << 20];
        var fds = new List<int>();
        for (int i = 0; i < 200; i++) {
            int fd = memfd_create("hoard", 0);
            if (fd < 0) throw new Exception("memfd_create: " + Marshal.GetLastWin32Error());
            for (int j = 0; j < 4; j++)
                if ((long)write(fd, chunk, (IntPtr)chunk.Length) != chunk.Length) throw new Exception("write failed");
            fds.Add(fd);
        }
        Console.WriteLine("held " + 4 * fds.Count + " MB");
    }
}
"""
