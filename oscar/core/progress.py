"""Progress of long operations: percent, MB/s, elapsed, remaining.

The engine reports through the ``Progress`` protocol; the CLI draws it on a terminal, the TUI
will draw it in a window, tests record it.
"""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO


class Progress(Protocol):
    def step(self, number: int, total: int, label: str) -> None: ...
    def start(self, label: str, total: int | None) -> None: ...
    def update(self, fraction: float) -> None: ...
    def finish(self) -> None: ...
    def message(self, text: str) -> None: ...


def format_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def render_line(label: str, fraction: float, total: int | None, elapsed: float) -> str:
    fraction = min(max(fraction, 0.0), 1.0)
    rate = ""
    if total and elapsed > 0:
        rate = f"{fraction * total / elapsed / 1e6:7.1f} MB/s"
    remaining = "--:--:--"
    if 0.01 < fraction < 1 and elapsed > 0:
        remaining = format_duration(elapsed / fraction - elapsed)
    elif fraction >= 1:
        remaining = format_duration(0)
    return (f"{label[:28]:<28} {fraction * 100:5.1f}% {rate:>12} "
            f"{format_duration(elapsed)} / {remaining}")


class TerminalProgress:
    """Redraws one line on a terminal; on a pipe or log prints a line every 10 %."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.label = ""
        self.total: int | None = None
        self.began = 0.0
        self.last_step = -1
        self.last_draw = 0.0
        self.fraction = 0.0

    def step(self, number: int, total: int, label: str) -> None:
        pass  # the plan was printed before; each step's bar names its partition

    def start(self, label: str, total: int | None) -> None:
        self.label, self.total = label, total
        self.began = time.monotonic()
        self.last_step = -1
        self.fraction = 0.0
        self.update(0.0)

    def update(self, fraction: float) -> None:
        self.fraction = fraction
        now = time.monotonic()
        line = render_line(self.label, fraction, self.total, now - self.began)
        if self.tty:
            if now - self.last_draw >= 0.2 or fraction >= 1:
                self.stream.write("\r" + line)
                self.stream.flush()
                self.last_draw = now
        else:
            step = int(fraction * 10)
            if step > self.last_step:
                self.last_step = step
                self.stream.write(line + "\n")
                self.stream.flush()

    def finish(self) -> None:
        self.update(1.0)
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()

    def message(self, text: str) -> None:
        if self.tty and self.label:
            self.stream.write("\n")
        self.stream.write(text + "\n")
        self.stream.flush()


class NullProgress:
    def __init__(self) -> None:
        self.messages: list[str] = []
        self.labels: list[str] = []
        self.steps: list[tuple[int, int, str]] = []
        self.last = 0.0

    def step(self, number: int, total: int, label: str) -> None:
        self.steps.append((number, total, label))

    def start(self, label: str, total: int | None) -> None:
        self.labels.append(label)

    def update(self, fraction: float) -> None:
        self.last = fraction

    def finish(self) -> None:
        self.last = 1.0

    def message(self, text: str) -> None:
        self.messages.append(text)
