"""Windows registry hives, offline, with python3-hivex (Debian's binding of libhivex)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import hivex

REG_SZ = 1
REG_DWORD = 4


class Hive(hivex.Hivex):  # type: ignore[misc]
    """hivex.Hivex, quiet about a file that is not a hive: the binding's constructor raises
    before it has a handle, and its destructor then prints a traceback on the console."""

    def __del__(self) -> None:
        if hasattr(self, "_o"):
            super().__del__()


def _sz(text: str) -> bytes:
    return (text + "\0").encode("utf-16-le")


def _dword(value: int) -> bytes:
    return value.to_bytes(4, "little")


def _ensure(h: Any, path: str) -> int:
    node = h.root()
    for part in path.split("\\"):
        child = h.node_get_child(node, part)
        node = child if child else h.node_add_child(node, part)
    return int(node)


def _set(h: Any, path: str, values: dict[str, tuple[int, bytes]]) -> None:
    node = _ensure(h, path)
    for key, (kind, value) in values.items():
        h.node_set_value(node, {"key": key, "t": kind, "value": value})


def build_system_hive(seed: Path, target: Path, *, computer_name: str, workgroup: str) -> None:
    """A SYSTEM hive with the keys Windows keeps the computer name and TCP/IP names in."""
    shutil.copyfile(seed, target)
    h = Hive(str(target), write=True)
    _set(h, "Select", {"Current": (REG_DWORD, _dword(1)), "Default": (REG_DWORD, _dword(1))})
    _set(h, "ControlSet001\\Control\\ComputerName\\ComputerName",
         {"ComputerName": (REG_SZ, _sz(computer_name))})
    _set(h, "ControlSet001\\Control\\ComputerName\\ActiveComputerName",
         {"ComputerName": (REG_SZ, _sz(computer_name))})
    _set(h, "ControlSet001\\Services\\Tcpip\\Parameters",
         {"Hostname": (REG_SZ, _sz(computer_name.lower())),
          "NV Hostname": (REG_SZ, _sz(computer_name.lower())),
          "Domain": (REG_SZ, _sz(""))})
    _set(h, "ControlSet001\\Services\\LanmanWorkstation\\Parameters",
         {"Workgroup": (REG_SZ, _sz(workgroup))})
    h.commit(str(target))


def build_software_hive(seed: Path, target: Path) -> None:
    shutil.copyfile(seed, target)
    h = Hive(str(target), write=True)
    _set(h, "Microsoft\\Windows NT\\CurrentVersion",
         {"ProductName": (REG_SZ, _sz("Windows 10 Education")),
          "ProductId": (REG_SZ, _sz("00328-10000-00001-AA123")),
          "RegisteredOwner": (REG_SZ, _sz("Ecole")),
          "RegisteredOrganization": (REG_SZ, _sz("Education nationale"))})
    h.commit(str(target))


def _value(hive: Path, path: str, key: str) -> tuple[Any, Any] | None:
    """The hive and the value ``key`` of the key at ``path`` (backslash-separated), if any."""
    h = Hive(str(hive))
    node = h.root()
    for part in path.split("\\"):
        node = h.node_get_child(node, part)
        if not node:
            return None
    value = h.node_get_value(node, key)
    return (h, value) if value else None


def read_string(hive: Path, path: str, key: str) -> str | None:
    found = _value(hive, path, key)
    return str(found[0].value_string(found[1])) if found else None


def read_dword(hive: Path, path: str, key: str) -> int | None:
    found = _value(hive, path, key)
    return int(found[0].value_dword(found[1])) if found else None


def set_values(hive: Path, values: dict[str, dict[str, str | int]]) -> None:
    """Write string (REG_SZ) and integer (REG_DWORD) values, keys made as needed, committed in
    place: {"ControlSet001\\\\Control\\\\ComputerName\\\\ComputerName": {"ComputerName": "PC"}}."""
    h = Hive(str(hive), write=True)
    for path, items in values.items():
        _set(h, path, {key: (REG_SZ, _sz(value)) if isinstance(value, str)
                       else (REG_DWORD, _dword(value)) for key, value in items.items()})
    # a whole new hive beside the old one, then in its place: a hive half-written by a
    # power cut would leave Windows unable to start
    tmp = hive.with_name(hive.name + ".oscar-new")
    h.commit(str(tmp))
    os.replace(tmp, hive)
