"""The TUI's Déploiement → PXE server flow, driven headless inside the server's network
namespace by tests/test_net_pxe.py: prints each screen after a "SCREEN <name>" line."""

from __future__ import annotations

import sys
import time

from oscar.ops import bootinstall
from oscar.ui.tui import actions
from oscar.ui.tui.app import App
from oscar.ui.tui.context import Context


def show(name: str, text: str) -> None:
    print(f"SCREEN {name}\n{text}", flush=True)


def wait_task(app: App) -> None:
    while app.task is not None:
        time.sleep(0.2)
        app.pump()
    app.pump()


def main(live: str) -> int:
    # the test's small stand-in for the live system's files (the vm tier boots the real one)
    bootinstall.LIVE_SOURCES = (live,)
    app = App(headless=True)
    ctx = Context(app, None)
    actions.open_menu(ctx, "main")
    app.press("d", "enter")  # Déploiement
    for _step in range(10):
        if any(line.startswith(">") and "PXE server" in line
               for line in app.screen_text().splitlines()):
            break
        app.press("down")
    app.press("enter")
    show("form", app.screen_text())
    app.press("end", "enter")  # Continue with the defaults: eth0, DHCP automatic
    wait_task(app)
    show("consent", app.screen_text())
    app.press("enter")  # Confirm: OSCAR may lease addresses
    wait_task(app)
    show("status", app.screen_text())
    app.press("right", "enter")  # Refresh | [Stop] | Back
    show("stopped", app.screen_text())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
