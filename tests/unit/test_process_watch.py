"""The watch on the editor's process: it fires once the process has ended, and a stopped watch ends
its thread without firing (a TCP session whose client left while its editor lives on)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from atten_scope.lsp.transport import POLL_S, watch_process

WATCH = "atten-scope-watch"


def watchers() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name == WATCH}


def test_a_stopped_watch_ends_its_thread_without_firing() -> None:
    stop, fired = threading.Event(), threading.Event()
    before = watchers()
    watch_process(os.getpid(), fired.set, "This test", stop)  # this process outlives the watch
    (started,) = watchers() - before
    assert started.is_alive()
    stop.set()
    started.join(timeout=5 * POLL_S)
    assert not started.is_alive() and not fired.is_set()


def test_a_watch_fires_once_its_process_has_ended() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped: its pid no longer names a process
    fired = threading.Event()
    watch_process(child.pid, fired.set, "A child", threading.Event())
    assert fired.wait(5 * POLL_S)
