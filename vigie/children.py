"""Child processes (enrichment, feed parsing) that end with their parent."""

from __future__ import annotations

import os
import signal
import threading
import time


def start_child() -> None:
    """Call first in a pool child's initializer.

    A parent killed with SIGKILL cannot stop its children, and they would live on
    forever: waiting for work, or blocked sending a result nobody reads (each holds
    both ends of its pool's pipes). A child whose parent is gone exits. Ctrl+C
    reaches the whole process group: the parent decides when its children stop.
    """
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)
