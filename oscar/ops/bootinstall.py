"""OSCAR on the PC's own disk (`oscar install`, `oscar grub --repair`, Outils → GRUB).

Copies the OSCAR live system onto the OSCAR partition, installs GRUB for the disk's firmware
(BIOS on an MBR disk, UEFI where an EFI system partition exists) and writes the boot menu:
the systems found on the disk, then "OSCAR" and "restaure", protected by the password.
Plan → confirm → execute; nothing outside what the plan names is written.

What stays on the OSCAR partition (beside the backups, which never see it as a backup):
  boot/live/{vmlinuz,initrd.img,filesystem.squashfs,B2SUMS}  the live system
  boot/grub/{grub.cfg,i386-pc/,x86_64-efi/}                   GRUB's menu and modules
  boot/oscar/boot.yaml                                         the settings `--repair` reuses
  boot/oscar/first-mib-before-oscar.bin                        the disk's first MiB as it was
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from oscar import __version__
from oscar.backups import checksums, oscarpart
from oscar.backups.store import Store, fsync_dir
from oscar.core import run, tools
from oscar.core.errors import OscarError, TargetRefused, UsageError
from oscar.core.i18n import _
from oscar.core.progress import Progress
from oscar.disks import disklock
from oscar.disks.devices import Disk, Partition, human_size
from oscar.engine import bootsystems, grubcfg, grubinstall, ptable
from oscar.engine.mount import mounted
from oscar.ops import plan as planning
from oscar.ops import safety

log = logging.getLogger("oscar.bootinstall")

LIVE_FILES = ("vmlinuz", "initrd.img", "filesystem.squashfs")
LIVE_DIR = grubcfg.LIVE_PATH.strip("/")  # boot/live
SETTINGS = Path("boot/oscar/boot.yaml")
FIRST_MIB_SAVED = Path("boot/oscar/first-mib-before-oscar.bin")
SPARE = 32 << 20  # room kept for GRUB's modules and the menu
MIB = 1 << 20
# Partition type and attributes that keep the OSCAR partition away from the installed systems
# (docs/boot-menu.md): Windows gives no drive letter to a type it cannot read; on GPT, bits 62
# (hidden) and 63 (no automount, no drive letter) say the same to Windows and to systemd.
MBR_OSCAR_TYPE = "83"
GPT_OSCAR_TYPE = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
GPT_OSCAR_ATTRS = "GUID:62,63"
# Where a live system finds the files it runs from: the ISO or USB key (live/), the OSCAR
# partition (boot/live/), the source tree (bootimage/out), an installed copy.
LIVE_SOURCES = ("/run/live/medium/live", "/run/live/medium/boot/live",
                str(Path(__file__).resolve().parents[2] / "bootimage/out"),
                "/usr/share/oscar/live")


@dataclass
class BootSettings:
    """What `oscar grub --repair` needs to write the same menu again."""
    default: str = "first"  # an entry id, or "first": the first system found
    timeout: int = 5
    backup: str | None = None  # restaure's backup; None: the newest of this PC
    lang: str = "fr"
    password_hash: str | None = None
    platforms: list[str] = field(default_factory=list)
    gap_digest: str | None = None  # of the sectors before the first partition, as OSCAR left them
    installed: str = ""
    version: str = ""

    @classmethod
    def load(cls, root: Path) -> BootSettings | None:
        path = root / SETTINGS
        if not path.is_file():
            return None
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            log.warning("unreadable %s: %s", path, exc)
            return None
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def save(self, root: Path) -> None:
        path = root / SETTINGS
        path.parent.mkdir(parents=True, exist_ok=True)
        staged = path.with_suffix(".new")
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, yaml.safe_dump(asdict(self), sort_keys=False).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(staged, path)


@dataclass
class InstallOptions:
    image_dir: Path | None = None  # the live system's files; None: found (LIVE_SOURCES)
    default: str | None = None  # None: as before, else "first"
    timeout: int | None = None
    backup: str | None = None  # "" unpins
    lang: str | None = None
    password_hash: str | None = None  # None: the one of the last install
    no_password: bool = False
    repair: bool = False  # keep the live files; reuse every setting


def peak_growth(new: list[int], old: list[int]) -> int:
    """The most the used space grows while the live files are replaced in order. Each new
    file is staged beside the old one, then renamed over it: while file i is staged, files
    before it are new, file i exists twice, files after it are still old."""
    peak = grown = 0
    for new_size, old_size in zip(new, old, strict=True):
        peak = max(peak, grown + new_size)
        grown += new_size - old_size
    return max(peak, grown)


def live_menu_hint() -> str:
    return _("Start OSCAR from its USB key or CD: the menu copies the live system from the "
             "medium it started from.")


def find_live_source(explicit: Path | None) -> Path | None:
    candidates = [explicit] if explicit is not None else [Path(p) for p in LIVE_SOURCES]
    for folder in candidates:
        if all((folder / name).is_file() for name in LIVE_FILES):
            return folder
    if explicit is not None:
        raise UsageError(_("{folder} does not hold the OSCAR live system ({files}).").format(
            folder=explicit, files=", ".join(LIVE_FILES)),
            _("Give the folder where 'make image' put them (bootimage/out), or start OSCAR "
              "from its USB key."))
    return None


def read_sums(folder: Path) -> dict[str, str]:
    try:
        lines = (folder / "B2SUMS").read_text().splitlines()
    except OSError:
        return {}
    return {name: digest for digest, _sep, name in (line.partition("  ") for line in lines)}


def live_intact(folder: Path) -> bool:
    """The live system's files match the checksums written when they were copied."""
    sums = read_sums(folder)
    return all(name in sums and (folder / name).is_file() and checksums.hash_file(folder / name) ==
               sums[name] for name in LIVE_FILES)


def copy_live(source: Path, target: Path, progress: Progress) -> None:
    """The live system's files into ``target``, each staged beside the old one, read back
    from the disk, then renamed over it; their checksums in B2SUMS."""
    target.mkdir(parents=True, exist_ok=True)
    total = sum((source / n).stat().st_size for n in LIVE_FILES)
    done = 0
    sums = {}
    progress.start(_("live system"), total)
    for name in LIVE_FILES:
        staged = target / f".{name}.new"
        digest = checksums.new_hash()
        with (source / name).open("rb") as src, staged.open("wb") as dst:
            while block := src.read(4 << 20):
                dst.write(block)
                digest.update(block)
                done += len(block)
                progress.update(done / total)
            dst.flush()
            os.fsync(dst.fileno())
        # read back from the disk, not from the pages just written
        if checksums.hash_file(staged, drop_cache=True) != digest.hexdigest():
            staged.unlink()
            raise OscarError(_("{file} does not read back as written on the OSCAR "
                               "partition.").format(file=name),
                             _("The partition may be failing: check it (e2fsck) and the "
                               "disk's health."))
        sums[name] = digest.hexdigest()
        os.replace(staged, target / name)
    (target / checksums.FILE).write_text(checksums.render(sums))
    fsync_dir(target)
    progress.finish()


def esp_of(disk: Disk) -> Partition | None:
    return next((p for p in disk.partitions if bootsystems.is_esp(p) and p.fstype == "vfat"),
                None)


def oscar_partition_of(disk: Disk) -> Partition | None:
    return next((p for p in disk.partitions if oscarpart.is_oscar_partition(p)), None)


def check_target(disk: Disk) -> tuple[Partition, Partition | None, list[str]]:
    """Why this disk cannot take OSCAR's boot menu, if it cannot (pure): the OSCAR partition,
    the EFI partition and the platforms it will boot on."""
    safety.refuse_boot_medium(disk, _("Choose the PC's disk, not the OSCAR key."))
    oscar = oscar_partition_of(disk)
    if oscar is None or not oscar.uuid:
        raise TargetRefused(_("{disk} has no OSCAR partition (ext4, label OSCAR).").format(
            disk=disk.path), _("Prepare the disk with OSCAR (Outils → Préparer un disque), or "
                               "give the OSCAR label to an ext4 partition (e2label)."))
    esp = esp_of(disk)
    platforms = []
    if disk.pttype == "dos":
        platforms.append("bios")
    if esp is not None:
        platforms.append("efi")
    if not platforms:
        raise TargetRefused(_("{disk} is a GPT disk without an EFI system partition.").format(
            disk=disk.path), _("A GPT disk boots through UEFI, which needs an EFI system "
                               "partition (FAT); prepare the disk with OSCAR, which makes one."))
    locked = locked_bitlocker(disk)
    if locked and "bios" in platforms:
        if "efi" not in platforms:
            raise TargetRefused(
                _("Partition {n} is encrypted with BitLocker: GRUB in the MBR changes what the "
                  "TPM measures, and Windows would ask for its recovery key at every "
                  "start.").format(n=locked[0]),
                _("In Windows, suspend BitLocker first (manage-bde -protectors -disable C: "
                  "-RebootCount 0) or turn it off; meanwhile start OSCAR from its key."))
        platforms.remove("bios")  # the MBR is left alone: the PC starts Windows by UEFI
    return oscar, esp, platforms


def locked_bitlocker(disk: Disk) -> list[int]:
    """The partitions whose BitLocker protection is on (a TPM unlocks them at each start)."""
    return [p.number for p in disk.partitions
            if p.encrypted and not (p.bitlocker and p.bitlocker.unlocked_without_key)]


@dataclass
class InstallFacts:
    """What the plan of `oscar install` / `grub --repair` is made of, read before it."""

    disk: Disk
    repair: bool
    systems: list[str]  # the titles of the systems found on the disk, in menu order
    live_source: Path | None  # the live system copied from there; None: the one there is kept
    live_bytes: int  # its size
    hide: bool  # the OSCAR partition's type (and GPT attributes) must change to hide it
    gap_foreign: bool  # the sectors before the first partition hold another program's data
    password_set: bool
    # the EFI partition holds EFI/debian: Debian's signed GRUB (OSCAR's too) reads it first
    esp_has_debian: bool = False


def _efi_step(plan: planning.Plan, d: Disk, esp: Partition) -> None:
    """The UEFI step; on a BitLocker disk, one that leaves Windows' own start alone."""
    locked = locked_bitlocker(d)
    if locked:
        plan.steps.append(planning.Step("efi-boot", _(
            "Write the signed boot chain (shim, GRUB) into {loader} only, and a firmware entry "
            "OSCAR after Windows Boot Manager (BitLocker: Windows keeps starting by itself)"
            ).format(loader=grubinstall.EFI_LOADER), writes=esp.path))
        plan.warnings.append(_(
            "partition {n} is encrypted with BitLocker: Windows Boot Manager stays the "
            "firmware's first entry and Windows' fallback loader is kept, since Windows "
            "started through GRUB would ask for its recovery key. To start OSCAR or restaure, "
            "choose OSCAR in the PC's boot menu (F12, F9 or Esc at power-on), or in Windows: "
            "Settings, System, Recovery, Advanced startup, Use a device, OSCAR "
            "(docs/boot-menu.md)").format(n=locked[0]))
    else:
        plan.steps.append(planning.Step("efi-boot", _(
            "Write the signed boot chain (shim, GRUB; Secure Boot accepts it) onto the EFI "
            "system partition: {loader} and the fallback {fallback}"
            ).format(loader=grubinstall.EFI_LOADER, fallback=grubinstall.EFI_FALLBACK),
            writes=esp.path))


def plan_install(facts: InstallFacts) -> planning.Plan:
    """The steps that install OSCAR's boot menu (pure)."""
    d = facts.disk
    oscar_part, esp, platforms = check_target(d)
    title = (_("Repair OSCAR's boot menu on {disk}") if facts.repair
             else _("Install OSCAR's boot menu on {disk}"))
    plan = planning.Plan(title.format(disk=d.path), d.identity, d.path, d.size)
    oscar = oscar_part.path
    if facts.live_source is not None:
        plan.steps.append(planning.Step("copy-live", _(
            "Copy the OSCAR live system from {source} onto the OSCAR partition").format(
            source=facts.live_source), writes=oscar, size=facts.live_bytes))
    plan.steps.append(planning.Step("grub-files", _(
        "Copy GRUB's modules ({platforms}) onto the OSCAR partition").format(
        platforms=", ".join(p.upper() for p in platforms)), writes=oscar))
    if "bios" in platforms:
        plan.steps.append(planning.Step("bios-boot", _(
            "Write GRUB's boot code in the MBR (the partition table is kept) and before the "
            "first partition"), writes=d.path))
    if "efi" in platforms:
        assert esp is not None
        _efi_step(plan, d, esp)
    if facts.hide:
        plan.steps.append(planning.Step("hide", _(
            "Hide the OSCAR partition from the installed systems (partition type and "
            "attributes)") if d.pttype == "gpt" else _(
            "Hide the OSCAR partition from the installed systems (partition type)"),
            writes=d.path))
    entries = [*facts.systems] + ["OSCAR", "restaure"]
    plan.steps.append(planning.Step("menu", _("Write the boot menu: {entries}").format(
        entries=" | ".join(entries)), writes=oscar))
    if not facts.systems:
        plan.warnings.append(_("no installed system was found on the disk; the menu offers "
                               "only OSCAR and restaure"))
    if facts.gap_foreign:
        plan.warnings.append(_("the sectors before the first partition hold data of another "
                               "program; they are replaced (a copy is kept on the OSCAR "
                               "partition)"))
    if not facts.password_set:
        plan.warnings.append(_("no password: anyone can start OSCAR and restaure"))
    if facts.esp_has_debian:
        plan.warnings.append(_(
            "the EFI partition holds EFI/debian (a Debian installed beside): Debian's signed "
            "GRUB, which OSCAR uses for Secure Boot, opens that Debian's menu first under UEFI; "
            "add OSCAR and restaure to it, or start OSCAR from a key"))
    return plan


class Installer:
    def __init__(self, disk: Disk, opts: InstallOptions, progress: Progress) -> None:
        self.disk = disk
        self.opts = opts
        self.progress = progress
        self.oscar, self.esp, self.platforms = check_target(disk)
        assert self.oscar.uuid is not None
        # Read-only until the plan is confirmed: a refused plan leaves every byte as it was.
        # A partition this installer mounts is unmounted by close() (run() ends with it).
        self.own_mount = not self.oscar.mountpoints
        self.root = oscarpart.mount(self.oscar, readonly=True)
        try:
            self._decide()
        except BaseException:
            self.close()
            raise

    def _decide(self) -> None:
        disk, opts = self.disk, self.opts
        previous = BootSettings.load(self.root)
        if opts.repair and previous is None:
            raise UsageError(_("OSCAR's boot menu was never installed on {disk}.").format(
                disk=disk.path), _("Install it first: oscar install --disk {disk}").format(
                disk=disk.path))
        self.settings = self._settings(previous)
        self.live_source, self.live_copy = self._live_files()
        self.systems = bootsystems.detect(disk, skip={self.oscar.number})
        self.bitlocker = bool(locked_bitlocker(disk))
        for system in self.systems:
            system.via_firmware = self.bitlocker and system.kind == "windows"
        self.settings.default = self._default()
        self.menu = self._menu()
        self.images = {platform: self._image(platform) for platform in self.platforms
                       if platform == "bios"}
        self.efi_files = (grubinstall.efi_files(self.oscar.uuid or "")
                          if "efi" in self.platforms else {})
        self.gap_warning = False
        if "bios" in self.platforms:
            self._check_gap()
        live_bytes = (sum((self.live_source / n).stat().st_size for n in LIVE_FILES)
                      if self.live_copy and self.live_source is not None else 0)
        self.plan = plan_install(InstallFacts(
            disk, opts.repair, [s.title for s in self.systems],
            self.live_source if self.live_copy else None, live_bytes, self._hide_changes(),
            self.gap_warning, self.settings.password_hash is not None,
            self.esp is not None and grubinstall.esp_exists(self.esp.path, "/EFI/debian")))

    def close(self) -> None:
        """Unmount the OSCAR partition if this installer mounted it."""
        if self.own_mount and os.path.ismount(self.root):
            run.run(["umount", str(self.root)], check=False)
            with contextlib.suppress(OSError):
                self.root.rmdir()
        self.own_mount = False

    # -- decisions (before anything is written) --------------------------------------------
    def _settings(self, previous: BootSettings | None) -> BootSettings:
        s = BootSettings(**asdict(previous)) if previous else BootSettings()
        o = self.opts
        if o.timeout is not None:
            if not 0 <= o.timeout <= 600:
                raise UsageError(_("The timeout must be between 0 and 600 seconds."),
                                 _("For example --timeout 5."))
            s.timeout = o.timeout
        if o.default is not None:
            s.default = o.default
        if o.lang is not None:
            s.lang = o.lang
        if o.backup is not None:
            s.backup = o.backup or None
        if o.no_password:
            s.password_hash = None
        elif o.password_hash is not None:
            s.password_hash = o.password_hash
        # A menu installed knowingly without a password (previous settings) stays so when a
        # repair or a restore writes it again: restaure must not fail after the restore.
        if s.password_hash is None and not o.no_password and previous is None:
            raise UsageError(_("No password is set: anyone could start OSCAR or restaure from "
                               "the boot menu."),
                             _("Set one first with 'oscar password' (or pass --no-password "
                               "knowingly)."))
        if s.backup is not None:
            entry = Store(self.root).get(s.backup)
            if not entry.usable:
                raise UsageError(_("The backup '{name}' is not complete; restaure cannot use "
                                   "it.").format(name=s.backup),
                                 _("Choose another backup with --backup, or verify it."))
        s.platforms = list(self.platforms)
        return s

    def _live_files(self) -> tuple[Path | None, bool]:
        """Where the live system comes from, and whether it must be copied."""
        target = self.root / LIVE_DIR
        installed = all((target / name).is_file() for name in LIVE_FILES)
        if self.opts.repair and installed and self.opts.image_dir is None:
            if live_intact(target):
                return None, False
            log.warning("the live system on %s does not match its checksums", self.oscar.path)
            if find_live_source(None) is None:
                raise OscarError(_("The OSCAR live system on the OSCAR partition is damaged "
                                   "(its checksums do not match)."),
                                 _("Repair from the OSCAR USB key, or give --image."),
                                 menu_hint=_("Start OSCAR from its USB key and repair the boot "
                                             "menu from there."))
        source = find_live_source(self.opts.image_dir)
        if source is None:
            if installed:
                return None, False
            raise UsageError(_("The OSCAR live system (kernel, initrd, squashfs) was not "
                               "found."), _("Give its folder with --image (bootimage/out after "
                                            "'make image'), or start OSCAR from its USB key."),
                             menu_hint=live_menu_hint())
        if installed and source.resolve() == target.resolve():
            return None, False  # running from this very partition
        sizes = [(source / n).stat().st_size for n in LIVE_FILES]
        old = [(target / n).stat().st_size if (target / n).is_file() else 0
               for n in LIVE_FILES]
        need = peak_growth(sizes, old) + SPARE
        free = shutil.disk_usage(self.root).free
        if need > free:
            raise TargetRefused(
                _("The OSCAR partition has {free} free; the live system needs {need}.").format(
                    free=human_size(free), need=human_size(need)),
                _("Delete an old backup from the OSCAR partition, then try again."))
        return source, True

    def _default(self) -> str:
        ids = [s.id for s in self.systems]
        wanted = self.settings.default
        if wanted == "first":
            return ids[0] if ids else "oscar"
        if wanted in ("oscar", "restaure"):
            if self.settings.password_hash:
                raise UsageError(_("'{id}' needs the password: as the default entry it would "
                                   "stop every start at the user name prompt.").format(id=wanted),
                                 _("Choose an installed system as the default ({ids}).").format(
                                     ids=", ".join(ids) or "-"))
            return wanted
        if wanted not in ids and self.opts.repair and self.opts.default is None:
            log.warning("default entry %s is gone; the first system becomes the default", wanted)
            return ids[0] if ids else "oscar"
        if wanted not in ids:
            raise UsageError(_("No boot entry '{id}' on {disk}.").format(id=wanted,
                                                                         disk=self.disk.path),
                             _("Entries: {ids}.").format(ids=", ".join([*ids, "oscar",
                                                                       "restaure"])))
        return wanted

    def _menu(self) -> str:
        assert self.oscar.uuid is not None
        text = grubcfg.render_disk(systems=self.systems, oscar_uuid=self.oscar.uuid,
                                   password_hash=self.settings.password_hash,
                                   default=self.settings.default, timeout=self.settings.timeout,
                                   backup=self.settings.backup, lang=self.settings.lang)
        grubcfg.check(text)
        return text

    def _image(self, platform: str) -> bytes:
        assert self.oscar.uuid is not None
        with tempfile.TemporaryDirectory(prefix="oscar-grub-") as tmp:
            out = Path(tmp) / "image"
            grubinstall.make_image(platform, self.oscar.uuid, out)
            return out.read_bytes()

    def _check_gap(self) -> None:
        first = min(p.start for p in self.disk.partitions)
        core = len(self.images["bios"])
        if not grubinstall.gap_fits(first, core):
            raise TargetRefused(
                _("The space before the first partition of {disk} ({gap} KB) is too small for "
                  "GRUB ({core} KB).").format(disk=self.disk.path,
                                              gap=grubinstall.gap_sectors(first) // 2,
                                              core=core // 1024 + 1),
                _("Move the first partition 1 MiB from the start (gparted), or prepare the disk "
                  "with OSCAR."))
        self.gap_warning = grubinstall.foreign_gap_data(self._gap(self.disk.path),
                                                        self.settings.gap_digest)

    def _gap(self, disk_path: str) -> bytes:
        first = min(p.start for p in self.disk.partitions)
        return ptable.read_at(disk_path, grubinstall.SECTOR,
                              grubinstall.gap_sectors(first) * grubinstall.SECTOR)

    def _hide_changes(self) -> bool:
        kind = (self.oscar.parttype or "").lower().removeprefix("0x")
        if self.disk.pttype == "dos":
            return kind != MBR_OSCAR_TYPE
        # sfdisk -J does not give attributes: compare with sfdisk -d's line.
        return kind != GPT_OSCAR_TYPE.lower() or not _has_hidden_attrs(self.disk.path,
                                                                       self.oscar.number)

    # -- execution --------------------------------------------------------------------------
    def required_tools(self) -> list[str]:
        names = ["grub-mkimage", "grub-script-check", "sfdisk", "mount", "umount"]
        if "bios" in self.platforms:
            names += ["grub-bios-setup", "mkfs.ext2", "losetup"]
        if "efi" in self.platforms:
            names += ["mdir", "mcopy", "mmd", "mdel", "mren", "mtype"]
        return names

    def run(self, *, lock: bool = True) -> list[str]:
        """Execute the plan; returns the menu's entries. ``lock``: False when the caller
        already holds the disk's lock (a restore ending with this)."""
        try:
            tools.require_all(self.required_tools())
            with disklock.locked(self.disk) if lock else contextlib.nullcontext():
                self.root = oscarpart.mount(self.oscar)
                planning.execute(self.plan, {"copy-live": self._copy_live,
                                             "grub-files": self._grub_files,
                                             "bios-boot": self._bios_boot,
                                             "efi-boot": self._efi_boot,
                                             "hide": self._hide,
                                             "menu": self._write_menu},
                                 self._check, self.progress.step)
        finally:
            self.close()
        return [s.title for s in self.systems] + ["OSCAR", "restaure"]

    def _check(self, step: planning.Step, disk: Disk) -> None:
        """Right before writing (the same disk, found again): the same OSCAR and EFI
        partitions (filesystem UUIDs, places)."""
        oscar, esp, _platforms = check_target(disk)
        if (oscar.uuid, oscar.start, oscar.number) != (self.oscar.uuid, self.oscar.start,
                                                       self.oscar.number) or \
                (esp and self.esp and (esp.uuid, esp.start) != (self.esp.uuid, self.esp.start)):
            raise TargetRefused(_("The partitions of {disk} changed since the plan was "
                                  "confirmed.").format(disk=disk.path),
                                _("Start again to see the new plan."))
        if min(p.start for p in disk.partitions) != min(p.start for p in self.disk.partitions):
            raise TargetRefused(_("The partitions of {disk} changed since the plan was "
                                  "confirmed.").format(disk=disk.path),
                                _("Start again to see the new plan."))
        self.disk = disk
        step.writes = {"copy-live": oscar.path, "grub-files": oscar.path, "menu": oscar.path,
                       "efi-boot": esp.path if esp else None}.get(step.action, disk.path)

    def _copy_live(self, step: planning.Step) -> None:
        assert self.live_source is not None
        copy_live(self.live_source, self.root / LIVE_DIR, self.progress)

    def _grub_files(self, step: planning.Step) -> None:
        grub_dir = self.root / grubinstall.GRUB_DIR
        for platform in self.platforms:
            grubinstall.copy_modules(platform, grub_dir)
        fsync_dir(grub_dir)

    def _bios_boot(self, step: planning.Step) -> None:
        assert step.writes is not None
        saved = self.root / FIRST_MIB_SAVED
        if not saved.exists():
            first = min(p.start for p in self.disk.partitions)
            saved.parent.mkdir(parents=True, exist_ok=True)
            saved.write_bytes(ptable.read_at(step.writes, 0, min(first, MIB)))
        core = self.root / grubinstall.GRUB_DIR / "i386-pc/core.img"
        core.write_bytes(self.images["bios"])
        grubinstall.bios_setup(step.writes, core)
        self.settings.gap_digest = grubinstall.gap_digest(self._gap(step.writes))
        log.info("GRUB's BIOS boot code written to %s", step.writes)

    def _efi_boot(self, step: planning.Step) -> None:
        assert step.writes is not None and self.esp is not None
        written = grubinstall.esp_install(step.writes, self.efi_files,
                                          fallback=not self.bitlocker)
        log.info("EFI partition %s: %s", step.writes, ", ".join(written))
        log.info("%s", grubinstall.firmware_entry(self.disk.path, self.esp.number,
                                                  first=not self.bitlocker))

    def _hide(self, step: planning.Step) -> None:
        assert step.writes is not None
        number = str(self.oscar.number)
        # --no-reread: the OSCAR partition is mounted; only the table's type field changes.
        quiet = ["--no-reread", "--no-tell-kernel", "--quiet"]
        if self.disk.pttype == "dos":
            run.run(["sfdisk", *quiet, "--part-type", step.writes, number, MBR_OSCAR_TYPE])
        else:
            run.run(["sfdisk", *quiet, "--part-type", step.writes, number, GPT_OSCAR_TYPE])
            run.run(["sfdisk", *quiet, "--part-attrs", step.writes, number, GPT_OSCAR_ATTRS])

    def _write_menu(self, step: planning.Step) -> None:
        self.settings.installed = time.strftime("%Y-%m-%dT%H:%M:%S")
        self.settings.version = __version__
        grubinstall.write_menu(self.root / grubinstall.GRUB_DIR, self.menu)
        self.settings.save(self.root)
        log.info("boot menu written: %s", ", ".join(
            [s.id for s in self.systems] + ["oscar", "restaure"]))


def _has_hidden_attrs(disk_path: str, number: int) -> bool:
    table = ptable.parse_sf(run.output(["sfdisk", "-d", disk_path]))
    entry = next((e for e in table.entries if e.number == number), None)
    attrs = (entry.fields.get("attrs", "") if entry else "").strip('"')
    return all(bit in attrs.replace("GUID:", "").split(",") for bit in ("62", "63"))


def installed_on(disk: Disk) -> BootSettings | None:
    """The boot settings on this disk's OSCAR partition, if OSCAR's menu is installed there
    (the partition is looked at read-only, and left as it was found)."""
    part = oscar_partition_of(disk)
    if part is None:
        return None
    if part.mountpoints:
        return BootSettings.load(Path(part.mountpoints[0]))
    try:
        with mounted(part.path, part.fstype, readonly=True) as root:
            return BootSettings.load(root)
    except OscarError as exc:
        log.info("%s not examined: %s", part.path, exc.message)
        return None
