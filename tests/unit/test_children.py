"""A service killed with SIGKILL leaves no child process behind: its pool children
exit once their parent is gone (before, a connector's parse child lived on,
blocked sending a result nobody would read)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.conftest import REPO

# The parent: a pool made as the service makes it, one child busy when it dies.
PARENT = """
import os, sys, time
from connectors.parsing import _new_pool
pool = _new_pool(1)
print(pool.submit(os.getpid).result(), flush=True)
pool.submit(time.sleep, 2)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone but for its parent's wait: not a child left running.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_parse_children_exit_when_the_connector_is_killed() -> None:
    # (The enrichment children start with the same vigie.children.start_child.)
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert _alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 15
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(child), f"child {child} still runs after its parent's SIGKILL"
    finally:
        parent.kill()
        parent.wait()
