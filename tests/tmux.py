"""The real program in tmux, 80x24, keys sent as a person types them (the menu's end-to-end
tests)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

from tests.conftest import sh


class Tmux:
    def __init__(self, tmp: Path, argv: list[str], env: dict[str, str],
                 program: list[str] | None = None) -> None:
        self.socket = f"oscar-test-{tmp.name}"
        environment = [f"{k}={v}" for k, v in env.items()]
        command = program or [sys.executable, "-m", "oscar"]
        sh("tmux", "-L", self.socket, "new-session", "-d", "-s", "e2e", "-x", "80", "-y", "24",
           "env", *environment, *command, *argv)

    def screen(self) -> str:
        result = sh("tmux", "-L", self.socket, "capture-pane", "-p", "-t", "e2e", check=False)
        return result.stdout

    def keys(self, *keys: str) -> None:
        for key in keys:
            sh("tmux", "-L", self.socket, "send-keys", "-t", "e2e", key)
            time.sleep(0.15)

    def type(self, text: str) -> None:
        sh("tmux", "-L", self.socket, "send-keys", "-t", "e2e", "-l", text)
        time.sleep(0.2)

    def wait_for(self, text: str, timeout: float = 120) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; screen:\n{self.screen()}")

    def focus_line(self, text: str, tries: int = 30) -> None:
        for _try in range(tries):
            if any(line.startswith(">") and text in line for line in self.screen().splitlines()):
                return
            self.keys("Down")
        raise AssertionError(f"no focused line with {text!r}:\n{self.screen()}")

    def alive(self) -> bool:
        return sh("tmux", "-L", self.socket, "has-session", "-t", "e2e", check=False).returncode == 0

    def close(self) -> None:
        panes = sh("tmux", "-L", self.socket, "list-panes", "-s", "-F", "#{pane_pid}", check=False)
        sh("tmux", "-L", self.socket, "kill-server", check=False)
        # the program in the pane gets SIGHUP: wait until it is gone, or it keeps the store busy
        for pid in (int(p) for p in panes.stdout.split()):
            for _try in range(50):
                if not _alive(pid):
                    break
                time.sleep(0.1)
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False
