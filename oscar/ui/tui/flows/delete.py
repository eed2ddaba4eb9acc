"""Tools → Delete a backup: the way out the "backup disk full" message points to."""

from __future__ import annotations

import functools

from oscar.backups.store import Entry, Store, deletion_text
from oscar.core.errors import OscarError
from oscar.core.i18n import _
from oscar.ui.tui import widgets
from oscar.ui.tui.app import Screen
from oscar.ui.tui.context import Flow
from oscar.ui.tui.flows.restore import backup_line, newest_first


class DeleteFlow(Flow):
    def start(self) -> None:
        self.with_store(self.store_known)

    def store_known(self) -> None:
        try:
            store = self.ctx.store()
            entries = newest_first(store.entries(include_incomplete=True))
        except OscarError as exc:
            self.app.error(exc)
            return
        if not entries:
            self.app.message(_("Delete a backup"), _("No backup in {root}.").format(
                root=store.root))
            return
        rows = []
        for entry in entries:
            name, summary = backup_line(entry)
            rows.append(widgets.MenuRow(name, summary, functools.partial(self.ask, store, entry),
                                        _("Deletes this backup and all its files.")))
        self.app.push(Screen(_("Delete a backup"), widgets.menu_screen(
            _("Which backup do you want to delete? (newest first)"), rows, width=30)))

    def ask(self, store: Store, entry: Entry) -> None:
        """The safe answer first and focused: Enter keeps the backup."""
        self.app.push(Screen(_("Delete a backup"), widgets.text_screen(
            deletion_text(entry), [(_("Keep it"), self.app.pop),
                                   (_("Delete it"), functools.partial(self.delete, store, entry))],
            style="warning", focus=0), keys=_("Arrows: choose  Enter: confirm  Esc: back")))

    def delete(self, store: Store, entry: Entry) -> None:
        try:
            store.delete(entry.name)
        except OscarError as exc:
            self.failed(exc)
            return
        self.app.back_to(self.depth)
        self.app.message(_("Delete a backup"), _("Backup '{name}' deleted from {root}.").format(
            name=entry.name, root=store.root), style="ok")
