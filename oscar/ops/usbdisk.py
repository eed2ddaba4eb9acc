"""disque_usb: an external disk laid out for OSCAR (`oscar usbdisk init`, Outils → disque_usb).

The layout (oscar/engine/layout.py, usb_plan): a small EFI partition and the 2 GB OSCAR-BOOT
partition holding the live system and GRUB (BIOS and UEFI PCs start it), OSCAR-SAVE (ext4,
half the disk: a PC saved straight onto it) and OSCAR-ECOLE (NTFS, the rest: every backup of
the school, readable from Windows). Plan → confirm → execute; the whole disk is erased, so the
plan names the disk by model, serial and size, and the disk is checked again before each write.
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from oscar.core import tools
from oscar.core.errors import TargetRefused, UsageError
from oscar.core.i18n import _, ngettext
from oscar.core.progress import Progress
from oscar.disks import disklock
from oscar.disks.devices import Disk, human_size, partition_path
from oscar.engine import grubcfg, grubinstall, layout, ptable
from oscar.engine.mount import mounted
from oscar.ops import plan as planning
from oscar.ops import safety
from oscar.ops.bootinstall import LIVE_DIR, LIVE_FILES, copy_live, find_live_source, live_menu_hint
from oscar.ops.prepare import FSTYPE_TOOLS, format_partition, write_table

log = logging.getLogger("oscar.usbdisk")
PLATFORMS = ("bios", "efi")


@dataclass
class UsbDiskOptions:
    allow_small: bool = False  # under 500 GB (tests, small disks)
    label: str | None = None  # dos or gpt; None: MBR up to 2 TiB, GPT beyond
    image_dir: Path | None = None  # the live system's files; None: found (LIVE_SOURCES)
    password_hash: str | None = None  # protects OSCAR and restaure in the disk's menu
    no_password: bool = False


def describe(disk: Disk) -> str:
    """The disk as the technician can check it on its label and in the plan."""
    model = (disk.model or "").strip() or _("unknown model")
    serial = (disk.serial or "").strip()
    return ", ".join([model, _("serial {serial}").format(serial=serial) if serial else
                      _("no serial number"), human_size(disk.size)])


def check_target(disk: Disk, allow_small: bool) -> None:
    """Every reason to refuse erasing this disk (pure)."""
    safety.refuse_whole_disk(
        disk, boot_hint=_("Start OSCAR from another medium to lay out this disk."),
        store_message=_("{disk} holds the backup folder in use; laying it out would erase the "
                        "backups.").format(disk=disk.path),
        busy_hint=_("Unmount it first (or unplug and plug the disk in again)."))
    if disk.size < layout.USB_MIN_SIZE and not allow_small:
        raise TargetRefused(
            _("{disk} has {size}; an OSCAR USB disk needs at least {minimum}.").format(
                disk=disk.path, size=human_size(disk.size),
                minimum=human_size(layout.USB_MIN_SIZE)),
            _("Use a disk of 500 GB or more (--allow-small lays out a smaller one anyway)."))
    # Too small even for the layout's partitions: said now, before any other question.
    layout.usb_plan(disk.size, layout.usb_label(disk.size))


def plan_usbdisk(disk: Disk, label: str, parts: list[layout.PlannedPartition],
                 live_source: Path, live_bytes: int, password_set: bool) -> planning.Plan:
    """The steps that lay out the USB disk (pure; the disk was checked by check_target)."""
    d = disk
    plan = planning.Plan(_("Lay out {disk} ({description}) as an OSCAR USB disk").format(
        disk=d.path, description=describe(d)), d.identity, d.path, d.size)
    plan.steps.append(planning.Step("write-table", _(
        "Write a new partition table ({label}); every partition of the disk is erased").format(
        label="GPT" if label == "gpt" else "MBR"), writes=d.path))
    for part in parts:
        if part.fstype == "biosboot":
            continue
        plan.steps.append(planning.Step(
            "format", _("Format partition {n} as {fs} \"{label}\" ({size})").format(
                n=part.number, fs=part.fstype, label=part.label, size=human_size(part.size)),
            writes=partition_path(d.path, part.number), params={"number": part.number}))
    boot = next(p for p in parts if p.label == layout.USB_LABELS["boot"])
    esp = next(p for p in parts if p.label == layout.USB_LABELS["esp"])
    plan.steps.append(planning.Step("copy-live", _(
        "Copy the OSCAR live system from {source} onto {label}").format(
        source=live_source, label=boot.label), writes=partition_path(d.path, boot.number),
        size=live_bytes, params={"number": boot.number}))
    plan.steps.append(planning.Step("grub", _(
        "Install GRUB for BIOS (boot code in the MBR{gap}) and UEFI with Secure Boot (shim and "
        "Debian's signed GRUB as {fallback} on {esp}), "
        "and the menu: OSCAR | restaure | OSCAR (English) | the PC's disk").format(
        gap=_(" and the BIOS boot partition") if label == "gpt" else "",
        fallback=grubinstall.EFI_FALLBACK, esp=esp.label), writes=d.path))
    if d.partitions:
        plan.warnings.append(ngettext(
            "the disk's {n} partition and everything on it will be lost",
            "the disk's {n} partitions and everything on them will be lost",
            len(d.partitions)).format(n=len(d.partitions)))
    if not password_set:
        plan.warnings.append(_("no password: anyone can start OSCAR and restaure"))
    return plan


class UsbDiskInit:
    def __init__(self, disk: Disk, opts: UsbDiskOptions, progress: Progress) -> None:
        check_target(disk, opts.allow_small)
        self.disk = disk
        self.opts = opts
        self.progress = progress
        self.label = opts.label or layout.usb_label(disk.size)
        self.parts = layout.usb_plan(disk.size, self.label)
        # Chosen now, so that GRUB's images and menu are made and checked before any write.
        self.boot_uuid = str(uuid.uuid4())
        source = find_live_source(opts.image_dir)
        if source is None:
            raise UsageError(_("The OSCAR live system (kernel, initrd, squashfs) was not "
                               "found."), _("Give its folder with --image (bootimage/out after "
                                            "'make image'), or start OSCAR from its USB key."),
                             menu_hint=live_menu_hint())
        self.live_source = source
        if opts.password_hash is None and not opts.no_password:
            raise UsageError(_("No password is set: anyone could start OSCAR or restaure from "
                               "this disk's menu."),
                             _("Set one first with 'oscar password' (or pass --no-password "
                               "knowingly)."))
        self.password_hash = None if opts.no_password else opts.password_hash
        self.menu = grubcfg.render_usbdisk(boot_uuid=self.boot_uuid,
                                           password_hash=self.password_hash)
        grubcfg.check(self.menu)
        self.bios_image = self._bios_image()
        self.efi_files = grubinstall.efi_files(self.boot_uuid)
        live_bytes = sum((source / n).stat().st_size for n in LIVE_FILES)
        self.plan = plan_usbdisk(disk, self.label, self.parts, source, live_bytes,
                                 self.password_hash is not None)

    def part(self, role: str) -> layout.PlannedPartition:
        return next(p for p in self.parts if p.label == layout.USB_LABELS[role])

    def _bios_image(self) -> bytes:
        with tempfile.TemporaryDirectory(prefix="oscar-grub-") as tmp:
            out = Path(tmp) / "image"
            grubinstall.make_image("bios", self.boot_uuid, out)
            return out.read_bytes()

    def required_tools(self) -> list[str]:
        return ["sfdisk", "partx", "blockdev", "wipefs", "mount", "umount", "grub-mkimage",
                "grub-bios-setup", "mkfs.ext2", "losetup", "mdir", "mcopy", "mmd", "mdel",
                "mren", "mtype", *sorted({FSTYPE_TOOLS[p.fstype] for p in self.parts
                                          if p.fstype in FSTYPE_TOOLS})]

    def run(self) -> None:
        tools.require_all(self.required_tools())
        with disklock.locked(self.disk):
            planning.execute(self.plan, {"write-table": self._write_table,
                                         "format": self._format, "copy-live": self._copy_live,
                                         "grub": self._grub},
                             self._check, self.progress.step)
        log.info("USB disk %s laid out (%s)", self.disk.path, describe(self.disk))

    def _check(self, step: planning.Step, disk: Disk) -> None:
        """Right before writing (the same disk, found again): still not in use."""
        check_target(disk, self.opts.allow_small)
        self.disk = disk
        if "number" in step.params:
            step.writes = partition_path(disk.path, step.params["number"])
            ptable.ensure_node(step.writes)
        else:
            step.writes = disk.path

    def _write_table(self, step: planning.Step) -> None:
        assert step.writes is not None
        write_table(step.writes, self.parts, self.label)

    def _format(self, step: planning.Step) -> None:
        assert step.writes is not None
        part = next(p for p in self.parts if p.number == step.params["number"])
        format_partition(part, step.writes, self.progress,
                         self.boot_uuid if part.label == layout.USB_LABELS["boot"] else None)

    def _copy_live(self, step: planning.Step) -> None:
        assert step.writes is not None
        with mounted(step.writes, "ext4") as root:
            copy_live(self.live_source, root / LIVE_DIR, self.progress)

    def _grub(self, step: planning.Step) -> None:
        assert step.writes is not None
        boot = partition_path(step.writes, self.part("boot").number)
        esp = partition_path(step.writes, self.part("esp").number)
        with mounted(boot, "ext4") as root:
            grub_dir = root / grubinstall.GRUB_DIR
            for platform in PLATFORMS:
                grubinstall.copy_modules(platform, grub_dir)
            core = grub_dir / "i386-pc/core.img"
            core.write_bytes(self.bios_image)
            grubinstall.bios_setup(step.writes, core)
            grubinstall.esp_install(esp, self.efi_files)
            grubinstall.write_menu(grub_dir, self.menu)
        log.info("GRUB installed on %s for BIOS and UEFI", step.writes)

