"""The menu application: a stack of screens in a frame, the keys every screen shares (Esc back,
F1 help, letters jump), and tasks that run off the UI thread with a progress screen.

``App(headless=True)`` has no terminal: tests press keys with ``press`` and read the screen
with ``screen_text`` (as subiquity tests its views).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urwid

from oscar.core import cancel, oplog, run
from oscar.core.config import Config
from oscar.core.errors import OscarError, os_reason
from oscar.core.i18n import _, decimal
from oscar.core.progress import format_duration
from oscar.disks.hotplug import BlockEvents
from oscar.ui.tui import widgets

log = logging.getLogger("oscar.tui")
SIZE = (80, 24)


@dataclass
class Screen:
    title: str
    widget: urwid.Widget
    help_text: str = ""
    on_back: Callable[[], None] | None = None  # None: pop; flows may override
    keys: str = ""
    on_disks_changed: Callable[[], None] | None = None  # screens that list disks redraw them


class UiProgress:
    """The engine's Progress, written from the worker thread into a ProgressState. The bar and
    the times are the whole operation's (a step's own figures reset at each step and said
    "remaining 0:00:00" at 44 %); the step and its speed are shown below."""

    def __init__(self, state: widgets.ProgressState) -> None:
        self.state = state
        self.began = time.monotonic()  # the whole operation
        self.step_began = self.began
        self.total: int | None = None
        self.number = 0
        self.steps = 0

    def step(self, number: int, total: int, label: str) -> None:
        self.number, self.steps = number, total
        self.state.step = _("Step {n}/{total}: {label}").format(n=number, total=total, label=label)
        self.state.label, self.state.rate, self.total = "", "", None
        self.step_began = time.monotonic()
        self.update(0.0)

    def start(self, label: str, total: int | None) -> None:
        self.state.label, self.total = label, total
        self.state.rate = ""
        self.step_began = time.monotonic()
        self.update(0.0)

    def update(self, fraction: float) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        now = time.monotonic()
        overall = (self.number - 1 + fraction) / self.steps if self.steps else fraction
        overall = min(max(overall, self.state.fraction if self.steps else 0.0), 1.0)
        elapsed = now - self.began
        self.state.step_fraction = fraction
        self.state.fraction = overall
        self.state.elapsed = format_duration(elapsed)
        step_elapsed = now - self.step_began
        if self.total and step_elapsed > 0.5 and fraction > 0:
            self.state.rate = _("{rate} MB/s").format(
                rate=decimal(f"{fraction * self.total / step_elapsed / 1e6:.1f}"))
        if overall >= 1:
            self.state.remaining_seconds = 0.0
        elif overall > 0.02 and elapsed > 3:
            self.state.remaining_seconds = elapsed / overall - elapsed
        else:
            self.state.remaining_seconds = None  # too early to say

    def finish(self) -> None:
        self.update(1.0)

    def message(self, text: str) -> None:
        self.state.label = text


class App:
    def __init__(self, config: Config | None = None, *, headless: bool = False,
                 screen: Any = None) -> None:
        self.config = config or Config()
        self.headless = headless
        self.stack: list[Screen] = []
        self.header = urwid.Text("")
        self.status = ""  # how the PC started (BIOS, UEFI, Secure Boot): on the main screen
        self.place = ""  # this PC and where its backups are: on the main screen
        self.footer = urwid.Text("")
        self.body = urwid.WidgetPlaceholder(urwid.SolidFill(" "))
        self.frame = urwid.Frame(self.body, header=urwid.AttrMap(self.header, "header"),
                                 footer=urwid.AttrMap(self.footer, "footer"))
        self._posted: queue.Queue[Callable[[], None]] = queue.Queue()
        self._wake_fd: int | None = None
        self.task: threading.Thread | None = None
        self.task_state: widgets.ProgressState | None = None
        self.task_view: widgets.ProgressView | None = None
        self.cancel_question = ""
        self.stop_label = ""
        self.loop: urwid.MainLoop | None = None
        self._hotplug_pending = False
        self.quiet = oplog.QuietTerminal()
        # restaure on the PC's screen writes what it shows here; the serial line shows a copy
        self.mirror: Path | None = None
        self._mirrored = ""
        # What escapes a screen's code becomes an error screen; the menu goes on.
        self.guarded = _Guarded(self, self.frame)
        if not headless:
            self.loop = urwid.MainLoop(self.guarded, widgets.PALETTE, screen=screen,
                                       unhandled_input=self._guard_unhandled, handle_mouse=False)
            self._wake_fd = self.loop.watch_pipe(self._on_wake)
            self._watch_disks()

    # -- hotplug ---------------------------------------------------------------------------
    def _watch_disks(self) -> None:
        assert self.loop is not None
        try:
            self.block_events: BlockEvents | None = BlockEvents()
        except Exception as exc:  # no netlink (a container): the lists refresh on each visit
            log.warning("no hotplug events: %s", exc)
            self.block_events = None
            return
        self.loop.watch_file(self.block_events.fileno(), self._on_block_event)

    def _on_block_event(self) -> None:
        assert self.block_events is not None
        events = self.block_events.drain()
        if events and not self._hotplug_pending and self.loop is not None:
            log.info("block devices changed: %s", events[:8])
            # A disk arrives as a burst of events (disk, then each partition): wait for calm.
            self._hotplug_pending = True
            self.loop.set_alarm_in(0.7, lambda *_args: self.disks_changed())

    def disks_changed(self) -> None:
        """Redraw the screens that list disks (a USB disk was plugged or unplugged)."""
        self._hotplug_pending = False
        if self.task is None and self.stack and self.current.on_disks_changed is not None:
            self.current.on_disks_changed()

    # -- screens -------------------------------------------------------------------------
    def push(self, screen: Screen) -> None:
        self.stack.append(screen)
        self.show_current()

    def replace(self, screen: Screen) -> None:
        if self.stack:
            self.stack.pop()
        self.push(screen)

    def pop(self) -> None:
        if len(self.stack) > 1:
            self.stack.pop()
            self.show_current()

    def back_to(self, depth: int) -> None:
        del self.stack[depth:]
        self.show_current()

    @property
    def current(self) -> Screen:
        return self.stack[-1]

    def show_current(self) -> None:
        screen = self.current
        titles = [s.title for s in self.stack if s.title and s.title != "OSCAR"]
        # The path fits one line: the oldest steps give way first.
        while len(titles) > 1 and len(" OSCAR — … > " + " > ".join(titles)) > SIZE[0]:
            titles = titles[1:]
            titles[0] = "… > " + titles[0] if not titles[0].startswith("…") else titles[0]
        path = " > ".join(titles)
        # How the PC started first: a long PC name is what gets cut at 80 columns.
        first = " OSCAR" + (f"  ({self.status})" if self.status else "") + (
            f" — {self.place}" if self.place else "")
        self.header.set_text((f" OSCAR — {path}" if path else first)[:SIZE[0]])
        hints = screen.keys or _("Arrows: move  Enter: choose  Esc: back  F1: help")
        self.footer.set_text(" " + hints)
        self.body.original_widget = screen.widget
        self.redraw()

    def redraw(self) -> None:
        if self.loop is not None and self.loop.screen.started:
            self.loop.draw_screen()
        self.publish()

    def publish(self) -> None:
        """The screen's text into the mirror file (written whole, then renamed: a reader never
        sees half a screen)."""
        if self.mirror is None or not self.stack:
            return
        text = self.screen_text()
        if text == self._mirrored:
            return
        self._mirrored = text
        try:
            self.mirror.parent.mkdir(parents=True, exist_ok=True)
            partial = self.mirror.with_name(self.mirror.name + ".new")
            partial.write_text(text, encoding="utf-8")
            partial.replace(self.mirror)
        except OSError as exc:
            log.warning("screen not mirrored: %s", exc)
            self.mirror = None

    # -- keys ----------------------------------------------------------------------------
    def press(self, *keys: str) -> None:
        """Feed keys as the terminal would (tests, and the tmux-less dry runs)."""
        for key in keys:
            unhandled = self.guarded.keypress(SIZE, key)
            if unhandled is not None:
                self._guard_unhandled(unhandled)
            self.pump()

    def _guard_unhandled(self, key: str) -> bool:
        try:
            return self._unhandled(key)
        except Exception as exc:  # noqa: BLE001 - shown as an error screen, kept in the log
            self.error(exc)
            return True

    def _unhandled(self, key: str) -> bool:
        if key == "esc":
            if self.current.on_back is not None:
                self.current.on_back()
            else:
                self.pop()
            return True
        if key == "f1":
            self.show_help()
            return True
        return False

    def show_help(self) -> None:
        widget = self.current.widget
        focused = widget.focused_help() if hasattr(widget, "focused_help") else ""
        text = focused or self.current.help_text or _("No help for this screen.")
        self.push(Screen(_("Help"), widgets.text_screen(text, [(_("Back"), self.pop)]),
                         keys=_("Esc: back")))

    def screen_text(self) -> str:
        return widgets.render_text(self.frame, SIZE)

    # -- messages --------------------------------------------------------------------------
    def message(self, title: str, text: str, on_ok: Callable[[], None] | None = None,
                style: str = "body") -> None:
        self.push(Screen(title, widgets.text_screen(text, [(_("OK"), on_ok or self.pop)], style),
                         on_back=on_ok))

    def hand_over(self, argv: list[str], *, notice: str | None = None,
                  output: Path | None = None) -> bool:
        """Give the terminal to another program (cfdisk, an X session) until it ends, then
        take it back; True when it ran, False when it could not start (an error screen)."""
        if self.loop is None:
            return False
        self.loop.screen.stop()
        try:
            if notice:
                print(notice)
            with self.quiet.lent():
                run.interactive(argv, output=output)
        except OscarError as exc:
            self.loop.screen.start()
            self.error(exc)
            return False
        self.loop.screen.start()
        return True

    def error(self, exc: BaseException, on_ok: Callable[[], None] | None = None) -> None:
        if isinstance(exc, OscarError):
            hint = exc.menu_hint or exc.hint
            text = exc.message + ("\n\n" + hint if hint else "")
        elif isinstance(exc, OSError):  # the system refused (a file, a disk): said plainly
            log.warning("system error: %s", exc)
            text = _("The system refused: {why}{where}.").format(
                why=os_reason(exc), where=f" ({exc.filename})" if exc.filename else "")
        else:
            log.error("internal error", exc_info=exc)
            text = _("Internal error ({kind}): a defect of OSCAR. Nothing more was done; the "
                     "menu goes on.").format(kind=type(exc).__name__)
        text += "\n\n" + _("Details are in the log: {path}").format(path=log_path())
        self.message(_("Error"), text, on_ok, style="error")

    # -- tasks -----------------------------------------------------------------------------
    def post(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the UI thread."""
        self._posted.put(fn)
        if self._wake_fd is not None:
            try:
                os.write(self._wake_fd, b"x")
            except OSError:
                pass

    def pump(self) -> None:
        while True:
            try:
                fn = self._posted.get_nowait()
            except queue.Empty:
                return
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - shown as an error screen, kept in the log
                self.error(exc)

    def _on_wake(self, _data: bytes) -> bool:
        self.pump()
        return True

    def run_task(self, title: str, work: Callable[[UiProgress], Any],
                 on_done: Callable[[Any], None], on_error: Callable[[BaseException], None],
                 cancel_question: str = "", stop_label: str = "", plain: bool = False) -> None:
        """Run ``work`` in a thread behind a progress screen; then ``on_done(result)`` or
        ``on_error(exc)`` on the UI thread. Esc asks ``cancel_question``; the work stops only
        on the ``stop_label`` button, never on the focused one. ``plain``: for a teacher (no
        step names, devices or tools; the remaining time in words)."""
        state = widgets.ProgressState(title=title, plain=plain)
        view = widgets.ProgressView(state)
        self.task_state, self.task_view = state, view
        self.cancel_question = cancel_question or _("Stop this operation?")
        self.stop_label = stop_label or _("Stop")
        self.push(Screen(title, view, keys=_("Esc: stop"), on_back=self.ask_cancel))
        progress = UiProgress(state)
        cancel.reset()

        def body() -> None:
            try:
                result = work(progress)
            except BaseException as exc:  # shown to the person, never lost
                log.info("task %s failed: %s", title, exc)
                failure = exc
                self.post(lambda: self._task_end(lambda: on_error(failure)))
            else:
                self.post(lambda: self._task_end(lambda: on_done(result)))

        self.task = threading.Thread(target=body, name=f"task {title}", daemon=True)
        self.task.start()
        if self.loop is not None:
            self.loop.set_alarm_in(0.25, self._tick)

    def _tick(self, _loop: object = None, _data: object = None) -> None:
        if self.task is None:
            return
        if self.task_view is not None:
            self.task_view.refresh()
            self.publish()
        if self.loop is not None:
            self.loop.set_alarm_in(0.25, self._tick)

    def _task_end(self, then: Callable[[], None]) -> None:
        cancel.reset()  # the cancelled task is over; what comes next must run
        self.task = None
        self.task_view = None
        if self.stack and isinstance(self.current.widget, widgets.ProgressView):
            self.stack.pop()
        elif len(self.stack) >= 2 and isinstance(self.stack[-2].widget, widgets.ProgressView):
            del self.stack[-2:]  # the cancel question was open
        then()

    def ask_cancel(self) -> None:
        if self.task_state is None or cancel.requested():
            return

        def yes() -> None:
            self.pop()
            if self.task_state is not None:
                self.task_state.note = _("Cancelling...")
            cancel.request()

        self.push(Screen(self.stop_label, widgets.stop_question(
            self.cancel_question, self.stop_label, self.pop, yes), on_back=self.pop,
            keys=_("Enter: choose  Esc: continue")))

    def wait_task(self, timeout: float = 600) -> None:
        """Headless: wait for the running task and deliver its result."""
        if self.task is not None:
            self.task.join(timeout)
        self.pump()

    def run(self) -> None:
        assert self.loop is not None
        with self.quiet:
            self.loop.run()

    def exit(self) -> None:
        raise urwid.ExitMainLoop()


class _Guarded(urwid.WidgetWrap):  # type: ignore[misc]
    """The whole screen: a key whose handling raises shows the error instead of ending the
    program with a traceback on the console."""

    def __init__(self, app: App, widget: urwid.Widget) -> None:
        super().__init__(widget)
        self._app = app

    def keypress(self, size: tuple[int, ...], key: str) -> str | None:
        try:
            return self._w.keypress(size, key)  # type: ignore[no-any-return]
        except Exception as exc:  # noqa: BLE001 - shown as an error screen, kept in the log
            self._app.error(exc)
            return None


def log_path() -> str:
    return str(oplog.main_log())
