"""The toolchain probe cache: a probe is reused while the executables it found are the same
files, re-run when one changes, when a version manager may choose another binary, when the
cache is cleared or turned off, and never trusted when it cannot be read."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from xpl.languages.base import clear_toolchain_cache
from xpl.languages.lua import Lua


def _tool(folder: Path, name: str, version: str) -> Path:
    """An executable that appends a line to ``probes.log`` beside it whenever it runs."""
    path = folder / name
    path.write_text(f"#!/bin/sh\necho probe >> '{folder / 'probes.log'}'\necho '{version}'\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


class FakeLua(Lua):
    name = "fakelua"
    tools = (("lua", ("fakelua",), ("-v",)),)

    def refine_toolchain(self, paths):
        return paths, []  # one run of the tool per probe: its version


class ShimmedLua(Lua):
    """A PL whose PATH entry is a shim that the probe resolves to another binary."""

    name = "shimlua"
    tools = (("lua", ("shimlua",), ("-v",)),)

    def refine_toolchain(self, paths):
        return {"lua": str(Path(paths["lua"]).with_name("real-lua"))}, []


@pytest.fixture
def bin_dir(tmp_path, monkeypatch):
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("XPL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("XPL_TOOLCHAIN_CACHE", raising=False)
    return folder


def _probes(folder: Path) -> int:
    log = folder / "probes.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_a_probe_is_reused_until_the_executable_changes(bin_dir):
    tool = _tool(bin_dir, "fakelua", "Lua 9.1")
    assert FakeLua().toolchain.version == "Lua 9.1" and _probes(bin_dir) == 1
    again = FakeLua().toolchain  # a new process would see the same: the cache file is read
    assert (again.available, again.version, again.paths) == (True, "Lua 9.1", {"lua": str(tool)})
    assert _probes(bin_dir) == 1
    _tool(bin_dir, "fakelua", "Lua 9.22")  # upgraded in place: another size
    assert FakeLua().toolchain.version == "Lua 9.22" and _probes(bin_dir) == 2
    clear_toolchain_cache()
    assert FakeLua().toolchain.version == "Lua 9.22" and _probes(bin_dir) == 3


def test_the_cache_can_be_turned_off_and_a_broken_cache_file_is_probed_over(bin_dir, tmp_path, monkeypatch):
    _tool(bin_dir, "fakelua", "Lua 9.1")
    FakeLua().toolchain
    monkeypatch.setenv("XPL_TOOLCHAIN_CACHE", "0")
    FakeLua().toolchain
    assert _probes(bin_dir) == 2
    monkeypatch.delenv("XPL_TOOLCHAIN_CACHE")
    cache = tmp_path / "cache" / "toolchains.json"
    for broken in ("{not json", '{"fakelua": {"key": 1}}', "[]"):
        cache.write_text(broken)
        assert FakeLua().toolchain.version == "Lua 9.1"
    cache.write_text(cache.read_text().replace('"version"', '"versio"'))  # a field this version lacks
    assert FakeLua().toolchain.available
    assert _probes(bin_dir) == 2 + 4


def test_a_missing_tool_is_never_cached(bin_dir):
    assert not FakeLua().toolchain.available
    _tool(bin_dir, "fakelua", "Lua 9.1")
    assert FakeLua().toolchain.available


def test_a_resolved_shim_is_probed_again_when_a_version_manager_may_choose_differently(bin_dir, tmp_path, monkeypatch):
    _tool(bin_dir, "shimlua", "shim")
    _tool(bin_dir, "real-lua", "Lua 9.1")
    work = tmp_path / "project"
    work.mkdir()
    monkeypatch.chdir(work)
    assert ShimmedLua().toolchain.paths == {"lua": str(bin_dir / "real-lua")}
    ShimmedLua().toolchain
    assert _probes(bin_dir) == 1
    (work / ".tool-versions").write_text("lua 9.2\n")  # asdf now picks by this file
    ShimmedLua().toolchain
    assert _probes(bin_dir) == 2
    monkeypatch.setenv("RUSTUP_TOOLCHAIN", "nightly")
    ShimmedLua().toolchain
    ShimmedLua().toolchain
    assert _probes(bin_dir) == 3
