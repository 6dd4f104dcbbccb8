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
}
