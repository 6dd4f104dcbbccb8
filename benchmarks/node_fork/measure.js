// Runs every program of a folder with Node, one way, and prints what it took as JSON:
//   node --single-threaded measure.js ADDON exec|fork FOLDER
// exec: each program as `node FILE` (a child process, Node started each time, as MultiPL-E
//       and xpl run JavaScript today);
// fork: each program in a fork of this process (forker.c), after loading once the built-in
//       modules a program's start and MultiPL-E's harness use, and run as the main module.
// The exit status of every program is reported, so the two ways can be checked to agree.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const Module = require('module');

const [addonPath, mode, folder] = process.argv.slice(2);
const files = fs.readdirSync(folder).sort().map((name) => path.resolve(folder, name));  // runMain needs absolute paths
const addon = require(path.resolve(addonPath));

const SIGNAL_NAMES = {};  // number -> the first name Node gives it (SIGABRT, not its alias SIGIOT)
for (const [name, n] of Object.entries(require('os').constants.signals)) SIGNAL_NAMES[n] ??= name;

function statusOf(raw) {  // a waitpid status as spawnSync reports one: {code, signal name}
  const signal = raw & 0x7f;
  return signal ? { code: null, signal: SIGNAL_NAMES[signal] || String(signal) } : { code: (raw >> 8) & 0xff, signal: null };
}

function runChild(file) {
  // In the fork: end with _exit once 'exit' has been emitted (Node's own teardown would join
  // worker threads that exist only in the parent), and run FILE as `node FILE` would.
  const emit = process.emit;
  process.emit = function (event, ...args) {
    const result = emit.call(this, event, ...args);
    if (event === 'exit') addon.exit(typeof process.exitCode === 'number' ? process.exitCode : (args[0] ?? 0));
    return result;
  };
  process.argv[1] = file;
  Module.runMain(file);
}

function main() {
  const statuses = [];
  if (mode === 'fork') {
    for (const name of ['assert', 'net', 'tty', 'stream', 'util']) require(name);
  }
  const started = process.hrtime.bigint();
  for (const file of files) {
    if (mode === 'exec') {
      const r = spawnSync(process.execPath, [file], { stdio: 'ignore' });
      statuses.push(r.signal ? { code: null, signal: r.signal } : { code: r.status, signal: null });
    } else {
      const pid = addon.fork();
      if (pid === 0) return runChild(file);
      statuses.push(statusOf(addon.wait(pid)));
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  fs.writeSync(2, JSON.stringify({ mode, programs: files.length, seconds, statuses }) + '\n');
}

main();
