"""The computer name of the system on a disk, read without mounting anything: Windows' SYSTEM
hive through ntfscat + hivex, or /etc/hostname through debugfs. Used for default names."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from oscar.core import run
from oscar.core.errors import OscarError
from oscar.disks.devices import Disk, Partition
from oscar.engine import registry

log = logging.getLogger("oscar.computername")
SYSTEM_HIVE = "Windows/System32/config/SYSTEM"


def of_windows(part: Partition) -> str | None:
    result = run.run(["ntfscat", "--force", part.path, SYSTEM_HIVE], check=False)
    if result.returncode != 0 or not result.stdout.startswith(b"regf"):
        return None
    with tempfile.NamedTemporaryFile(prefix="oscar-hive-") as fh:
        fh.write(result.stdout)
        fh.flush()
        hive = Path(fh.name)
        current = registry.read_dword(hive, "Select", "Current") or 1
        return registry.read_string(
            hive, f"ControlSet{current:03d}\\Control\\ComputerName\\ComputerName", "ComputerName")


def of_linux(part: Partition) -> str | None:
    result = run.run(["debugfs", "-R", "cat /etc/hostname", part.path], check=False)
    text = result.stdout.decode("utf-8", "replace").strip()
    return text.splitlines()[0].strip() if result.returncode == 0 and text else None


def of_disk(disk: Disk) -> str | None:
    for part in disk.partitions:
        try:
            if part.fstype == "ntfs":
                name = of_windows(part)
            elif part.fstype in ("ext2", "ext3", "ext4") and part.label != "OSCAR":
                name = of_linux(part)
            else:
                continue
        except (OscarError, RuntimeError, OSError) as exc:
            log.info("no computer name on %s: %s", part.path, exc)
            continue
        if name:
            return name
    return None
