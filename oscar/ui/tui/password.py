"""The boot menu's password, asked once (twice typed) when none is set yet: GRUB and the USB
disk's menu protect OSCAR and restaure with it (user name: oscar)."""

from __future__ import annotations

from collections.abc import Callable

from oscar.core import config as configuration
from oscar.core.errors import OscarError
from oscar.core.i18n import _, ngettext
from oscar.ui.tui import widgets
from oscar.ui.tui.app import App, Screen

MIN_PASSWORD = 4


def ask(app: App, then: Callable[[], None], *, persist: bool = True) -> None:
    """Push the password screen; once a good password is saved, pop it and call ``then``.
    ``persist=False``: kept in ``app.config`` only; the caller saves it once its work
    succeeded (a disk that could not be laid out leaves no new password behind)."""

    def chosen(first: str, second: str) -> None:
        if len(first) < MIN_PASSWORD:
            app.message(_("Password"), ngettext(
                "The password is too short: use at least {n} character.",
                "The password is too short: use at least {n} characters.",
                MIN_PASSWORD).format(n=MIN_PASSWORD), style="error")
            return
        if first != second:
            app.message(_("Password"), _("The two passwords differ."), style="error")
            return
        try:
            configuration.set_password(app.config, first)
            if persist:
                configuration.save(app.config)
        except (OSError, OscarError) as exc:
            app.error(exc)
            return
        app.pop()
        app.message(_("Password"), keyboard_note(), then)

    def keyboard_note() -> str:
        return _("Password saved. Type it as usual on the PC's French (AZERTY) keyboard, also "
                 "at the boot menu's prompt: OSCAR stored what the boot menu receives from "
                 "those keys (it reads every keyboard as a US one).")

    app.push(Screen(_("Password"), widgets.password_screen(
        _("OSCAR and restaure are protected by a password in the boot menu (user name: "
          "oscar). Choose it now:"), chosen)))
