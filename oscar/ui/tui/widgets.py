"""Views: urwid widgets built from plain data. They never call the engine; their callbacks
are given by the flows. Every screen fits an 80x24 Linux console and reads without colours."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import urwid

from oscar.core import spoken
from oscar.core.i18n import _
from oscar.core.progress import format_duration

PALETTE = [
    ("header", "white,bold", "dark blue"),
    ("footer", "black", "light gray"),
    ("body", "default", "default"),
    ("focus", "black", "light cyan"),
    ("title", "bold", "default"),
    ("dim", "dark gray", "default"),
    ("error", "light red,bold", "default"),
    ("warning", "yellow,bold", "default"),
    ("ok", "light green,bold", "default"),
]

Callback = Callable[[], None]


class Row(urwid.WidgetWrap):  # type: ignore[misc]
    """One selectable line: a label and a short summary; Enter (or space) chooses it. Without
    colours the focused row is still marked by the '>' cursor."""

    def __init__(self, label: str, summary: str, on_select: Callback, width: int = 20,
                 help_text: str = "", key: str = "") -> None:
        self.label = label
        self.help_text = help_text
        self.key = key  # what the row stands for (a disk's identity), whatever its position
        self.on_select = on_select
        self._cursor = urwid.Text("  ")
        columns = urwid.Columns([(2, self._cursor), (width, urwid.Text(label, wrap="clip")),
                                 urwid.Text(summary)], dividechars=1)
        super().__init__(urwid.AttrMap(columns, "body", "focus"))

    def selectable(self) -> bool:
        return True

    def render(self, size: tuple[int, ...], focus: bool = False) -> urwid.Canvas:
        self._cursor.set_text("> " if focus else "  ")
        return super().render(size, focus)

    def keypress(self, size: tuple[int, ...], key: str) -> str | None:
        if key in ("enter", " "):
            self.on_select()
            return None
        return key


class MenuList(urwid.ListBox):  # type: ignore[misc]
    """A list of rows where typing a letter jumps to the next row whose label starts with it."""

    def __init__(self, rows: Sequence[urwid.Widget]) -> None:
        super().__init__(urwid.SimpleFocusListWalker(list(rows)))

    def keypress(self, size: tuple[int, ...], key: str) -> str | None:
        focused = self.focus
        inner = getattr(focused, "original_widget", focused)
        if isinstance(inner, urwid.Edit):
            # Letters go into a text field; Home/End move in it.
            return super().keypress(size, key)  # type: ignore[no-any-return]
        if len(key) == 1 and key.isalnum():
            return None if self.jump(key) else key
        if key in ("home", "end"):
            selectable = [i for i, w in enumerate(self.body) if w.selectable()]
            if selectable:
                self.set_focus(selectable[0] if key == "home" else selectable[-1])
            return None
        return super().keypress(size, key)  # type: ignore[no-any-return]

    def jump(self, letter: str) -> bool:
        walker = self.body
        count = len(walker)
        start = self.focus_position if count else 0
        for offset in range(1, count + 1):
            index = (start + offset) % count
            row = walker[index]
            label = getattr(row, "label", "")
            if row.selectable() and label[:1].casefold() == letter.casefold():
                self.set_focus(index)
                return True
        return False

    def focused_help(self) -> str:
        row = self.focus
        return getattr(row, "help_text", "") if row is not None else ""

    def keys(self) -> list[str]:
        return [key for row in self.body if (key := getattr(row, "key", ""))]

    def focused_key(self) -> str:
        return str(getattr(self.focus, "key", "")) if self.focus is not None else ""

    def focus_key(self, key: str) -> bool:
        """Put the cursor on the row standing for ``key``; False when no row does."""
        for index, row in enumerate(self.body):
            if key and getattr(row, "key", "") == key:
                self.set_focus(index)
                return True
        return False


@dataclass
class MenuRow:
    label: str
    summary: str
    on_select: Callback
    help_text: str = ""
    key: str = ""


def menu_screen(intro: str, rows: Sequence[MenuRow], width: int = 20) -> MenuList:
    widgets: list[urwid.Widget] = []
    if intro:
        widgets += [urwid.Text(intro), urwid.Divider()]
    widgets += [Row(r.label, r.summary, r.on_select, width, r.help_text, r.key) for r in rows]
    menu = MenuList(widgets)
    for index, widget in enumerate(widgets):
        if widget.selectable():
            menu.set_focus(index)
            break
    return menu


class CheckRow(urwid.CheckBox):  # type: ignore[misc]
    def __init__(self, label: str, state: bool, help_text: str = "") -> None:
        super().__init__(label, state)
        self.help_text = help_text


def button_row(buttons: Sequence[tuple[str, Callback]]) -> urwid.Widget:
    cells = [urwid.AttrMap(urwid.Button(label, lambda _b, cb=cb: cb()), "body", "focus")
             for label, cb in buttons]
    return urwid.GridFlow(cells, max(len(label) for label, _cb in buttons) + 4, 2, 0, "left")


def checklist_screen(intro: str, rows: Sequence[tuple[str, bool, str]],
                     on_done: Callable[[list[bool]], None]) -> tuple[urwid.Widget, list[CheckRow]]:
    """Check boxes (label, checked, help) and a Continue button."""
    boxes = [CheckRow(label, checked, help_text) for label, checked, help_text in rows]
    body: list[urwid.Widget] = [urwid.Text(intro), urwid.Divider(),
                                *[urwid.AttrMap(b, "body", "focus") for b in boxes],
                                urwid.Divider(),
                                button_row([(_("Continue"), lambda: on_done([b.get_state()
                                                                             for b in boxes]))])]
    return MenuList(body), boxes


@dataclass
class Field:
    key: str
    label: str
    value: str = ""
    choices: Sequence[tuple[str, str]] = ()  # (value, label); empty: free text


def form_screen(intro: str, fields: Sequence[Field],
                on_done: Callable[[dict[str, str]], None]) -> urwid.Widget:
    """Free-text and one-of-several fields, with their defaults shown and a Continue button."""
    body: list[urwid.Widget] = [urwid.Text(intro), urwid.Divider()]
    getters: dict[str, Callable[[], str]] = {}
    for field_ in fields:
        if field_.choices:
            group: list[urwid.RadioButton] = []
            body.append(urwid.Text(("title", field_.label)))
            values = []
            for value, label in field_.choices:
                button = urwid.RadioButton(group, label, state=value == field_.value)
                values.append(value)
                body.append(urwid.AttrMap(urwid.Padding(button, left=2), "body", "focus"))

            def chosen(group: list[urwid.RadioButton] = group, values: list[str] = values) -> str:
                return next(v for b, v in zip(group, values, strict=True) if b.get_state())

            getters[field_.key] = chosen
        else:
            edit = urwid.Edit(_("{label}: ").format(label=field_.label), field_.value)
            body.append(urwid.AttrMap(edit, "body", "focus"))
            getters[field_.key] = edit.get_edit_text
        body.append(urwid.Divider())
    body.append(button_row([(_("Continue"), lambda: on_done({k: g() for k, g in getters.items()}))]))
    return MenuList(body)


def password_screen(intro: str, on_done: Callable[[str, str], None]) -> urwid.Widget:
    """A new password typed twice, masked; ``on_done(first, second)`` judges them."""
    first = urwid.Edit(_("New password: "), mask="*")
    second = urwid.Edit(_("Again: "), mask="*")
    body: list[urwid.Widget] = [urwid.Text(intro), urwid.Divider(),
                                urwid.AttrMap(first, "body", "focus"),
                                urwid.AttrMap(second, "body", "focus"), urwid.Divider(),
                                button_row([(_("Continue"), lambda: on_done(
                                    first.get_edit_text(), second.get_edit_text()))])]
    return MenuList(body)


def secret_screen(intro: str, label: str, on_done: Callable[[str], None]) -> urwid.Widget:
    """One secret typed once, masked (a BitLocker key); ``on_done(text)``."""
    edit = urwid.Edit(label, mask="*")
    body: list[urwid.Widget] = [urwid.Text(intro), urwid.Divider(),
                                urwid.AttrMap(edit, "body", "focus"), urwid.Divider(),
                                button_row([(_("Continue"), lambda: on_done(edit.get_edit_text()))])]
    return MenuList(body)


def text_screen(text: str, buttons: Sequence[tuple[str, Callback]] = (),
                style: str = "body", focus: int = 0) -> urwid.Widget:
    """A text and buttons; ``focus``: the button Enter presses first (the safe one, where a
    button destroys or stops something)."""
    body: list[urwid.Widget] = [urwid.Text((style, text))]
    if buttons:
        row = button_row(buttons)
        row.focus_position = focus
        body += [urwid.Divider(), row]
    # The list puts its focus on the buttons when it first draws them (a long text starts at
    # its top, scrollable, until they show).
    return urwid.ListBox(urwid.SimpleFocusListWalker(body))


def stop_question(question: str, stop_label: str, on_continue: Callback,
                  on_stop: Callback) -> urwid.Widget:
    """Asked when Esc is pressed during a task: the buttons say the outcome (continue, or stop
    the named work) and Enter on the focused one carries on, so Esc then Enter is harmless."""
    return text_screen(question, [(_("Continue"), on_continue), (stop_label, on_stop)],
                       style="warning", focus=0)


def confirm_screen(plan_text: str, question: str, on_confirm: Callback, on_cancel: Callback,
                   typed: str | None = None) -> urwid.Widget:
    """The plan, then Confirm / Cancel. ``typed``: the person must type this word (the disk's
    name) before Confirm does anything: a whole-disk write is never one key away."""
    body: list[urwid.Widget] = [urwid.Text(plan_text), urwid.Divider(),
                                urwid.Text(("warning", question))]
    edit: urwid.Edit | None = None
    status = urwid.Text("")
    if typed is not None:
        edit = _EnterEdit(_("Type {word} to confirm: ").format(word=typed),
                          on_enter=lambda: confirm())
        body.append(urwid.AttrMap(edit, "body", "focus"))

    def confirm() -> None:
        if edit is not None and edit.get_edit_text().strip() != typed:
            status.set_text(("error", _("Type {word} exactly, or choose Cancel.").format(word=typed)))
            return
        on_confirm()

    body += [status, button_row([(_("Confirm"), confirm), (_("Cancel"), on_cancel)])]
    listbox = urwid.ListBox(urwid.SimpleFocusListWalker(body))
    listbox.set_focus(len(body) - 1 if edit is None else len(body) - 3)
    return listbox


class _EnterEdit(urwid.Edit):  # type: ignore[misc]
    """A text field where Enter validates (the word typed to confirm a whole-disk write)."""

    def __init__(self, caption: str, on_enter: Callback) -> None:
        super().__init__(caption)
        self.on_enter = on_enter

    def keypress(self, size: tuple[int, ...], key: str) -> str | None:
        if key == "enter":
            self.on_enter()
            return None
        return super().keypress(size, key)  # type: ignore[no-any-return]


@dataclass
class ProgressState:
    """What a running task shows; written by the worker thread, drawn by the UI thread."""
    title: str = ""
    step: str = ""
    label: str = ""
    fraction: float = 0.0  # the whole operation
    step_fraction: float = 0.0
    rate: str = ""
    elapsed: str = "0:00:00"
    remaining_seconds: float | None = None  # None: not known yet
    note: str = ""
    table: str = ""  # a deployment's clients, one per line
    plain: bool = False  # a teacher's screen: no step, device or tool names


class TextBar(urwid.Widget):  # type: ignore[misc]
    """A progress bar drawn with characters: readable on a console without colours."""

    _sizing = frozenset(["flow"])

    def __init__(self) -> None:
        super().__init__()
        self.fraction = 0.0

    def set_fraction(self, fraction: float) -> None:
        self.fraction = max(0.0, min(1.0, fraction))
        self._invalidate()

    def rows(self, size: tuple[int], focus: bool = False) -> int:
        return 1

    def render(self, size: tuple[int], focus: bool = False) -> urwid.Canvas:
        (maxcol,) = size
        inner = max(0, maxcol - 9)
        done = int(inner * self.fraction)
        text = f"[{'#' * done}{'.' * (inner - done)}] {self.fraction * 100:3.0f} %"
        return urwid.Text(text[:maxcol]).render((maxcol,))


class ProgressView(urwid.WidgetWrap):  # type: ignore[misc]
    """The whole operation's bar and times on top; the step being done below it."""

    def __init__(self, state: ProgressState) -> None:
        self.state = state
        self.title = urwid.Text(("title", state.title))
        self.bar = TextBar()
        self.figures = urwid.Text("")
        self.step = urwid.Text("")
        self.label = urwid.Text("")
        self.note = urwid.Text("")
        self.table = urwid.Text("")
        pile = urwid.Pile([self.title, urwid.Divider(), self.bar, self.figures, urwid.Divider(),
                           self.step, self.label, urwid.Divider(), self.table, self.note,
                           urwid.Divider(), urwid.Text(("dim", _("Esc: stop")))])
        super().__init__(urwid.Filler(pile, valign="top"))
        self.refresh()

    def refresh(self) -> None:
        s = self.state
        self.title.set_text(("title", s.title))
        self.bar.set_fraction(s.fraction)
        self.figures.set_text(figures_line(s))
        if s.plain:
            self.step.set_text(_("Do not switch the PC off. It restarts by itself at the end."))
            self.label.set_text("")
        else:
            self.step.set_text(s.step)
            detail = [s.label] if s.label else []
            if s.step and 0 < s.step_fraction < 1:
                detail.append(_("{percent} % of this step").format(
                    percent=f"{s.step_fraction * 100:.0f}"))
            if s.rate:
                detail.append(s.rate)
            self.label.set_text("  ".join(detail))
        self.table.set_text(s.table)
        self.note.set_text(("warning", s.note) if s.note else "")


def figures_line(s: ProgressState) -> str:
    if s.plain:
        if s.remaining_seconds is None:
            return _("Time remaining: being estimated")
        return _("Time remaining: {duration}").format(
            duration=spoken.about_duration(s.remaining_seconds))
    remaining = (format_duration(s.remaining_seconds) if s.remaining_seconds is not None
                 else _("being estimated"))
    return _("elapsed {elapsed}  remaining {remaining}").format(elapsed=s.elapsed,
                                                                remaining=remaining)


def render_text(widget: urwid.Widget, size: tuple[int, int] = (80, 24), focus: bool = True) -> str:
    """The screen as plain text (tests and the user guide's captures)."""
    canvas = widget.render(size, focus=focus)
    return "\n".join(line.decode("utf-8").rstrip() for line in canvas.text)
