"""Pytest plugin (loaded by tests/conftest.py): a safety net for processes left running.

Every test stops the browsers, drivers and servers it starts. If one is still running when the
session ends (a fixture that failed half-way through its setup, a driver whose quit() hung, a
subprocess that outlived its timeout), it is named in the output and stopped here, so that a run
never leaves chromium / chromedriver / geckodriver / firefox-esr processes behind and never waits
on them. Only descendants of this pytest process are touched, nothing else on the machine.

Set EFD_KEEP_LEFTOVERS=1 to only list them (debugging).
"""
from __future__ import annotations

import os
import signal
import time

import pytest


def _proc_table() -> dict[int, list[int]]:
    """ppid -> live child pids, read from /proc (Linux). Zombies are left out."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return children
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read().decode("utf-8", "replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()   # the command name may hold spaces and ')'
        if len(fields) < 2 or fields[0] in ("Z", "X"):
            continue
        children.setdefault(int(fields[1]), []).append(int(name))
    return children


def descendants(pid: int) -> list[int]:
    """Live descendants of `pid`, parents before their children."""
    table = _proc_table()
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in table.get(todo.pop(0), []):
            out.append(child)
            todo.append(child)
    return out


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()[:160]
    except OSError:
        return "?"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("utf-8", "replace")
    except OSError:
        return False
    fields = stat[stat.rfind(")") + 2:].split()
    return bool(fields) and fields[0] not in ("Z", "X")


def _become_subreaper() -> None:
    """Orphans of the processes stopped below are re-parented to this process (not to init), so
    they stay descendants and are found on the next round (Linux prctl PR_SET_CHILD_SUBREAPER)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)
    except Exception:
        pass


def stop_leftovers(grace: float = 5.0) -> list[str]:
    """SIGTERM every live descendant of this process, SIGKILL what is left after `grace` seconds.
    Returns "pid cmdline" for each process found (empty when nothing was left running)."""
    pids = descendants(os.getpid())
    found = {p: _cmdline(p) for p in pids}
    if not pids or os.environ.get("EFD_KEEP_LEFTOVERS") == "1":
        return [f"{p} {c}" for p, c in found.items()]
    _become_subreaper()
    for sig in (signal.SIGTERM, signal.SIGKILL, signal.SIGKILL):
        for p in pids:
            try:
                os.kill(p, sig)
            except OSError:
                pass
        deadline = time.monotonic() + (grace if sig == signal.SIGTERM else 2.0)
        while time.monotonic() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.1)
        pids = descendants(os.getpid())   # survivors, and orphans re-parented to us meanwhile
        for p in pids:
            found.setdefault(p, _cmdline(p))
        if not pids:
            break
    return [f"{p} {c}" for p, c in found.items()]


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    # trylast: runs after the session-scoped fixtures were torn down.
    found = stop_leftovers()
    if not found:
        return
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = ["processes still running at the end of the session (a fixture did not stop them):"]
    lines += [f"  {x}" for x in found]
    if os.environ.get("EFD_KEEP_LEFTOVERS") != "1":
        lines.append("  -> stopped (SIGTERM, then SIGKILL)")
    if tr is not None:
        tr.write("\n")
    for line in lines:
        if tr is not None:
            tr.write_line("LEFTOVER " + line, yellow=True)
        else:
            print("LEFTOVER " + line)
