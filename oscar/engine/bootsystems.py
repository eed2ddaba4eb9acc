"""The systems installed on a disk, as a boot menu needs them: Windows through its boot manager,
Linux through its kernel and initrd.

OSCAR looks for the same markers os-prober does, directly: every filesystem is opened read-only
(ext3/4 without replaying the journal, NTFS through ntfs-3g, the EFI partition with mtools,
which needs no vfat driver), so a hibernated Windows or a dirty Linux is never written to.
The parsing below is pure; ``detect`` does the reading.
"""

from __future__ import annotations

import logging
import re
import shlex
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from oscar.core import run
from oscar.core.errors import OscarError
from oscar.disks.devices import Disk, Partition
from oscar.engine import registry

log = logging.getLogger("oscar.bootsystems")

ESP_GPT_TYPE = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
ESP_MBR_TYPES = ("ef", "0xef")
WINDOWS_EFI_LOADER = "/EFI/Microsoft/Boot/bootmgfw.efi"
SOFTWARE_HIVE = "Windows/System32/config/SOFTWARE"
LINUX_FS = ("ext2", "ext3", "ext4", "xfs", "btrfs")
KERNEL_PREFIXES = ("vmlinuz-", "vmlinux-", "kernel-")
INITRD_PATTERNS = ("initrd.img-{v}", "initrd-{v}.img", "initramfs-{v}.img", "initrd-{v}")


@dataclass
class BootSystem:
    kind: str  # "windows" or "linux"
    title: str
    partition: int  # the partition holding the boot files (for UEFI Windows: the ESP)
    fs_uuid: str  # that partition's filesystem UUID: what GRUB searches for
    platform: str  # "bios", "efi" or "any"
    loader: str = ""  # Linux: the kernel's path; Windows UEFI: the boot manager's path
    initrd: str | None = None
    options: str = ""  # Linux kernel command line
    fstype: str | None = None  # of the partition holding the boot files
    # Windows on a BitLocker disk: started by the firmware's own entry after a restart, never
    # chainloaded (the TPM would measure GRUB and Windows would ask for its recovery key)
    via_firmware: bool = False

    @property
    def id(self) -> str:
        return f"{self.kind}-{self.partition}"


def is_esp(part: Partition) -> bool:
    kind = (part.parttype or "").lower()
    return kind == ESP_GPT_TYPE or kind in ESP_MBR_TYPES


def parse_os_release(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        if "=" not in line or line.lstrip().startswith("#"):
            continue
        key, _sep, raw = line.partition("=")
        try:
            words = shlex.split(raw)
        except ValueError:
            continue
        values[key.strip()] = words[0] if words else ""
    return values


def linux_title(os_release: dict[str, str]) -> str:
    return os_release.get("PRETTY_NAME") or os_release.get("NAME") or "Linux"


def grub_default_options(text: str) -> str:
    """The kernel options a Linux system gives itself in /etc/default/grub (shell syntax)."""
    values = {}
    for line in text.splitlines():
        match = re.match(r"\s*(GRUB_CMDLINE_LINUX(?:_DEFAULT)?)=(.*)$", line)
        if not match:
            continue
        try:
            values[match.group(1)] = " ".join(shlex.split(match.group(2)))
        except ValueError:
            continue
    return " ".join(v for v in (values.get("GRUB_CMDLINE_LINUX", ""),
                                values.get("GRUB_CMDLINE_LINUX_DEFAULT", "quiet")) if v)


def _version_key(version: str) -> list[tuple[int, int | str]]:
    """6.1.0-13-amd64 sorts after 6.1.0-9-amd64: numbers compare as numbers."""
    return [(0, int(part)) if part.isdigit() else (1, part)
            for part in re.split(r"(\d+)", version) if part]


def pick_kernel(boot_files: list[str]) -> tuple[str, str | None] | None:
    """The newest kernel in a /boot listing, and its initrd when there is one."""
    kernels = []
    for name in boot_files:
        for prefix in KERNEL_PREFIXES:
            if name.startswith(prefix) and not name.endswith((".sig", ".old")):
                kernels.append((name[len(prefix):], name))
    if not kernels:
        return None
    version, kernel = max(kernels, key=lambda k: _version_key(k[0]))
    names = set(boot_files)
    initrd = next((p.format(v=version) for p in INITRD_PATTERNS if p.format(v=version) in names),
                  None)
    return kernel, initrd


def linux_options(fs_uuid: str, defaults: str) -> str:
    return " ".join(x for x in (f"root=UUID={fs_uuid}", "ro", defaults) if x)


# -- reading (read-only) -------------------------------------------------------------------------
@contextmanager
def _read_only(part: Partition) -> Iterator[Path]:
    point = Path(tempfile.mkdtemp(prefix="oscar-probe-"))
    if part.fstype == "ntfs":
        argv = ["ntfs-3g", "-o", "ro", part.path, str(point)]
    else:
        # noload / norecovery: a read-only mount must not replay a journal (that writes).
        extra = {"ext3": ",noload", "ext4": ",noload", "xfs": ",norecovery"}.get(part.fstype or "",
                                                                                   "")
        argv = ["mount", "-t", part.fstype or "auto", "-o", "ro" + extra, part.path, str(point)]
    try:
        run.run(argv)
    except OscarError:
        point.rmdir()
        raise
    try:
        yield point
    finally:
        run.run(["umount", str(point)], check=False)
        point.rmdir()


def _windows_name(root: Path) -> str:
    hive = root / SOFTWARE_HIVE
    if hive.is_file():
        try:
            name = registry.read_string(hive, "Microsoft\\Windows NT\\CurrentVersion",
                                        "ProductName")
        except (OscarError, RuntimeError, OSError):
            name = None
        if name:
            return name if name.startswith("Windows") else f"Windows ({name})"
    return "Windows"


def _esp_has(part: Partition, path: str) -> bool:
    result = run.run(["mdir", "-b", "-i", part.path, "::" + path], check=False)
    return result.returncode == 0


def detect(disk: Disk, *, skip: set[int] | None = None) -> list[BootSystem]:
    """The systems on ``disk``, Windows first, in partition order. ``skip``: partitions not to
    look into (the OSCAR partition)."""
    skip = skip or set()
    windows_name = "Windows"
    windows_bios: list[BootSystem] = []
    linux: list[BootSystem] = []
    for part in disk.partitions:
        if part.number in skip or part.in_use or not part.uuid:
            continue
        try:
            if part.fstype == "ntfs":
                with _read_only(part) as root:
                    if (root / "Windows/System32").is_dir():
                        windows_name = _windows_name(root)
                    if (root / "bootmgr").is_file() or (root / "ntldr").is_file():
                        windows_bios.append(BootSystem("windows", "Windows", part.number,
                                                       part.uuid, "bios"))
            elif part.fstype in LINUX_FS:
                found = _linux(part)
                if found is not None:
                    linux.append(found)
        except OscarError as exc:
            log.info("%s not examined: %s", part.path, exc.message)
    windows_efi = [BootSystem("windows", "Windows", p.number, p.uuid, "efi",
                              loader=WINDOWS_EFI_LOADER)
                   for p in disk.partitions
                   if is_esp(p) and p.uuid and p.fstype == "vfat" and
                   _esp_has(p, WINDOWS_EFI_LOADER)]
    systems = windows_bios[:1] + windows_efi[:1]
    for system in systems:
        system.title = windows_name
    log.info("systems on %s: %s", disk.path, ", ".join(f"{s.title} ({s.id}, {s.platform})"
                                                        for s in systems + linux) or "none")
    return systems + linux


def _linux(part: Partition) -> BootSystem | None:
    assert part.uuid is not None
    with _read_only(part) as root:
        boot = root / "boot"
        if not boot.is_dir():
            return None
        picked = pick_kernel(sorted(p.name for p in boot.iterdir() if p.is_file()))
        if picked is None:
            return None
        release = _read_text(root / "etc/os-release") or _read_text(root / "usr/lib/os-release")
        defaults = grub_default_options(_read_text(root / "etc/default/grub") or "")
    kernel, initrd = picked
    return BootSystem("linux", linux_title(parse_os_release(release or "")), part.number,
                      part.uuid, "any", loader=f"/boot/{kernel}",
                      initrd=f"/boot/{initrd}" if initrd else None,
                      options=linux_options(part.uuid, defaults), fstype=part.fstype)


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
