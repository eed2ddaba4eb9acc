"""The menu tree, loaded from menus/*.yaml (data, not code; no I/O beyond reading the files).

Strings in the files are English msgids; ``label()``, ``summary()`` and ``help()`` translate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from oscar.core import settings
from oscar.core.errors import UsageError
from oscar.core.i18n import translations
from oscar.data import MENUS_DIR as DATA_MENUS

MENUS_DIR = DATA_MENUS
ROOT_MENU = "main"


def tr(msgid: str) -> str:
    """Translate a string read from the menu files (its msgid is data, not a literal)."""
    return translations().gettext(msgid)


def menus_dir() -> Path:
    return Path(settings.MENUS.value() or MENUS_DIR)


@dataclass
class Item:
    key: str
    label_id: str
    summary_id: str
    help_id: str
    action: str | None = None
    submenu: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return tr(self.label_id)

    @property
    def summary(self) -> str:
        return tr(self.summary_id)

    @property
    def help(self) -> str:
        return tr(self.help_id)


@dataclass
class Menu:
    id: str
    title_id: str
    items: list[Item]

    @property
    def title(self) -> str:
        return tr(self.title_id)


def _item(menu: str, raw: dict[str, Any]) -> Item:
    missing = [k for k in ("key", "label", "summary", "help") if not raw.get(k)]
    if missing:
        raise UsageError(f"menu {menu}: item {raw.get('key', '?')} lacks {', '.join(missing)}")
    if bool(raw.get("action")) == bool(raw.get("submenu")):
        raise UsageError(f"menu {menu}: item {raw['key']} needs exactly one of action, submenu")
    return Item(str(raw["key"]), str(raw["label"]), str(raw["summary"]),
                str(raw["help"]).strip(), raw.get("action"), raw.get("submenu"),
                dict(raw.get("params") or {}))


def load(folder: Path | None = None) -> dict[str, Menu]:
    """Every menu of the folder by id; checks the tree is whole (every submenu exists)."""
    folder = folder or menus_dir()
    menus: dict[str, Menu] = {}
    for path in sorted(folder.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        menu = Menu(str(raw["id"]), str(raw["title"]),
                    [_item(str(raw["id"]), item) for item in raw["items"]])
        if menu.id in menus:
            raise UsageError(f"menu {menu.id} defined twice ({path.name})")
        keys = [i.key for i in menu.items]
        if len(set(keys)) != len(keys):
            raise UsageError(f"menu {menu.id}: duplicate item keys")
        menus[menu.id] = menu
    if ROOT_MENU not in menus:
        raise UsageError(f"no '{ROOT_MENU}' menu in {folder}")
    for menu in menus.values():
        for item in menu.items:
            if item.submenu and item.submenu not in menus:
                raise UsageError(f"menu {menu.id}: item {item.key} opens unknown menu {item.submenu}")
    return menus


def strings(menus: dict[str, Menu]) -> list[str]:
    """Every msgid the menus show (for the translation catalogue and its test)."""
    found: list[str] = []
    for menu in menus.values():
        found.append(menu.title_id)
        for item in menu.items:
            found += [item.label_id, item.summary_id, item.help_id]
    return list(dict.fromkeys(found))


def actions(menus: dict[str, Menu]) -> set[str]:
    return {item.action for menu in menus.values() for item in menu.items if item.action}
