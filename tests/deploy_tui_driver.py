"""The TUI's Déploiement flow, driven headless inside the server's network namespace by
tests/test_net_deploy.py: prints each screen after a "SCREEN <name>" line."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from oscar.ui.tui import actions
from oscar.ui.tui.app import App
from oscar.ui.tui.context import Context


def show(name: str, text: str) -> None:
    print(f"SCREEN {name}\n{text}", flush=True)


def main(store: str, procedure: str, clients: int) -> int:
    app = App(headless=True)
    ctx = Context(app, Path(store))
    actions.open_menu(ctx, "main")
    app.press("d", "enter", "enter")  # Déploiement > Synchrone: the procedures
    for _step in range(20):  # down to the procedure's own row
        if any(line.startswith(">") and f" {procedure} " in f"{line} "
               for line in app.screen_text().splitlines()):
            break
        app.press("down")
    app.press("enter")
    show("backups", app.screen_text())
    app.press("enter")
    show("options", app.screen_text())
    app.press("backspace", *str(clients))  # Number of clients: 1 → N
    # off the text fields first ("end" inside a field moves its cursor), then Continue
    app.press("down", "down", "end", "enter")
    show("confirm", app.screen_text())
    app.press("enter")  # Confirm
    if app.task is None:
        show("no task", app.screen_text())
        return 1
    show("started", app.screen_text())
    last = ""
    while app.task is not None:
        state = app.task_state
        if state is not None and state.table and state.table != last:
            last = state.table
            if app.task_view is not None:
                app.task_view.refresh()  # the event loop's timer does it on a real screen
            show("table", app.screen_text())
        time.sleep(0.3)
        app.pump()
    app.pump()
    show("result", app.screen_text())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
