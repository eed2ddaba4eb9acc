"""The virtual lab: a classroom of sparse disk images on loop devices.

The model PC's disk: 1 NTFS "Windows" (a Windows-like tree with registry hives), 2 ext4
"Linux" (a Debian-like tree), 3 swap, 4 ext4 "OSCAR" (backups); on GPT also 5, the EFI system
partition (FAT, written with mtools: this host's kernel has no vfat), at the end of the disk.
Clients: blank disks. The demo, the tests and bench/ all use it.

The systems are laid out as installed ones are, so that boot menus find them: Windows's boot
manager files (bootmgr and Boot/BCD on the Windows partition for BIOS, EFI/Microsoft/Boot on
the EFI partition for UEFI) and a Linux /boot with a kernel and its initrd. They do not boot
Windows (there is none to boot); the Linux kernel is a real one when the lab is given one
(the vm tests give the live image's), otherwise a placeholder file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from oscar.core import run, settings
from oscar.core.errors import OscarError, UsageError
from oscar.core.i18n import _
from oscar.disks.devices import partition_path
from oscar.engine.mount import mounted

log = logging.getLogger("oscar.lab")

STATE = "lab.yaml"
MODEL = "model.img"
MIB = 1024 * 1024
# Share of the disk for partitions 1-3; the OSCAR partition takes the rest.
LAYOUT = (("Windows", 0.40), ("Linux", 0.20), ("swap", 0.04))
ESP_MIB = 40  # the smallest FAT32 mkfs.vfat makes with 512-byte sectors is 33 MiB
LAB_KERNEL_VERSION = "6.1.0-13-amd64"


def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    text = text.strip().upper().rstrip("IB").rstrip("B") if text[-1:].isalpha() else text
    try:
        if text and text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except ValueError as exc:
        raise UsageError(_("'{text}' is not a size.").format(text=text),
                         _("Write sizes like 512M, 4G or 1T.")) from exc


def registry_seed() -> Path:
    candidates = [settings.REGISTRY_SEED.value(),
                  str(Path(__file__).resolve().parents[3] / "shared/data/registry/minimal"),
                  "/usr/share/oscar/registry/minimal"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise OscarError(_("The registry test hive 'minimal' was not found."),
                     _("Set OSCAR_REGISTRY_SEED to the path of shared/data/registry/minimal."))


@dataclass
class Lab:
    root: Path
    images: list[str] = field(default_factory=list)  # model first
    devices: dict[str, str] = field(default_factory=dict)  # image → /dev/loopN

    @classmethod
    def load(cls, root: Path) -> Lab:
        path = root / STATE
        if not path.is_file():
            raise UsageError(_("{root} is not a lab.").format(root=root),
                             _("Create one with 'oscar lab create {root}'.").format(root=root))
        data = yaml.safe_load(path.read_text()) or {}
        return cls(root, list(data.get("images", [])), dict(data.get("devices", {})))

    def save(self) -> None:
        (self.root / STATE).write_text(yaml.safe_dump(
            {"images": self.images, "devices": self.devices}, sort_keys=False))

    @property
    def model(self) -> str | None:
        return self.devices.get(MODEL)

    @property
    def clients(self) -> list[str]:
        return [self.devices[i] for i in self.images[1:] if i in self.devices]


def attach_image(image: Path) -> str:
    device = run.output(["losetup", "--find", "--show", "--partscan", str(image)]).strip()
    # Without udev, --partscan creates no partition nodes here; partx adds them.
    run.run(["partx", "-a", device], check=False)
    return device


def detach_device(device: str) -> None:
    run.run(["partx", "-d", device], check=False)
    run.run(["losetup", "-d", device], check=False)
    # losetup -d on a busy device only sets autoclear and still succeeds: check it went away.
    if Path(f"/sys/block/{os.path.basename(device)}/loop/backing_file").exists():
        raise UsageError(_("{device} is still in use and was not detached.").format(device=device),
                         _("Unmount its partitions first (see 'findmnt')."))


def attached_to(image: Path) -> str | None:
    """The loop device this image is already attached to, if any."""
    lines = run.output(["losetup", "--associated", str(image), "--noheadings",
                        "--output", "NAME"]).split()
    return lines[0] if lines else None


def attach(root: Path) -> Lab:
    lab = Lab.load(root)
    for image in lab.images:
        current = attached_to(root / image)
        if current:
            lab.devices[image] = current
            continue
        lab.devices[image] = attach_image(root / image)
    lab.save()
    return lab


def detach(root: Path) -> Lab:
    lab = Lab.load(root)
    for image, device in list(lab.devices.items()):
        if _backing(device) == str((root / image).resolve()):
            detach_device(device)
        del lab.devices[image]
    lab.save()
    return lab


def _backing(device: str) -> str | None:
    name = os.path.basename(device)
    try:
        return Path(f"/sys/block/{name}/loop/backing_file").read_text().strip()
    except OSError:
        return None


def create(root: Path, *, clients: int = 2, gpt: bool = False, size: int = 3 << 30,
           client_size: int | None = None, data_mb: int = 300, seed: int = 1,
           kernel: tuple[Path, Path] | None = None) -> Lab:
    """``kernel``: a real (vmlinuz, initrd) pair for the Linux partition's /boot."""
    if size < 768 * MIB:
        raise UsageError(_("A lab disk needs at least 768M."), _("Give --size 1G or more."))
    root.mkdir(parents=True, exist_ok=True)
    if (root / STATE).exists():
        raise UsageError(_("{root} already holds a lab.").format(root=root),
                         _("Remove it first ('oscar lab destroy {root}').").format(root=root))
    model = root / MODEL
    with model.open("wb") as fh:
        fh.truncate(size)
    lab = Lab(root, [MODEL])
    for index in range(1, clients + 1):
        name = f"client{index:02d}.img"
        with (root / name).open("wb") as fh:
            fh.truncate(client_size or size)
        lab.images.append(name)
    _partition(model, size, gpt)
    device = attach_image(model)
    try:
        _format_and_fill(device, data_mb, seed, gpt, kernel)
    finally:
        detach_device(device)
    lab.save()
    return lab


def destroy(root: Path) -> None:
    if (root / STATE).exists():
        detach(root)
        lab = Lab.load(root)
        for image in lab.images:
            (root / image).unlink(missing_ok=True)
        (root / STATE).unlink()


def _partition(image: Path, size: int, gpt: bool) -> None:
    sectors = size // 512
    usable = sectors - 2048 - 40
    lines = ["label: gpt" if gpt else "label: dos", ""]
    types = ({"Windows": "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7",
              "Linux": "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
              "swap": "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F",
              "OSCAR": "0FC63DAF-8483-4772-8E79-3D69D8477DE4"} if gpt else
             {"Windows": "7", "Linux": "83", "swap": "82", "OSCAR": "83"})
    used = 0
    for name, share in LAYOUT:
        mib = int(usable * share) // 2048
        used += mib
        lines.append(f"size={mib}MiB, type={types[name]}" + (f', name="{name}"' if gpt else ""))
    if gpt:
        oscar_mib = usable // 2048 - used - ESP_MIB - 1
        lines.append(f'size={oscar_mib}MiB, type={types["OSCAR"]}, name="OSCAR"')
        lines.append('type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI system partition"')
    else:
        lines.append(f"type={types['OSCAR']}")
    run.run(["sfdisk", "--quiet", str(image)], input=("\n".join(lines) + "\n").encode())


def _format_and_fill(device: str, data_mb: int, seed: int, gpt: bool,
                     kernel: tuple[Path, Path] | None) -> None:
    p = [partition_path(device, n) for n in (1, 2, 3, 4)]
    start = int(Path(f"/sys/class/block/{os.path.basename(p[0])}/start").read_text())
    # mkfs.ntfs cannot read the geometry of a loop partition; Windows wants it set.
    run.run(["mkfs.ntfs", "-Q", "-L", "Windows", "-p", str(start), "-H", "255", "-S", "63", p[0]])
    run.run(["mkfs.ext4", "-q", "-L", "Linux", p[1]])
    run.run(["mkswap", "-L", "swap", p[2]])
    run.run(["mkfs.ext4", "-q", "-L", "OSCAR", p[3]])
    rng = random.Random(seed)
    with mounted(p[0], "ntfs") as win:
        fill_windows(win, int(data_mb * 0.7), rng, bios_boot=not gpt)
    with mounted(p[1], "ext4") as lin:
        fill_linux(lin, data_mb - int(data_mb * 0.7), rng, kernel)
    if gpt:
        make_esp(partition_path(device, 5), rng)


def make_esp(device: str, rng: random.Random) -> None:
    """The EFI system partition of a Windows PC: its boot manager (and the fallback copy
    firmware starts when no boot entry is set). Written with mtools, no mount needed."""
    run.run(["mkfs.vfat", "-F", "32", "-s", "1", "-n", "ESP", device])
    manager = rng.randbytes(4096)  # stands for bootmgfw.efi: found by boot menus, never started
    for folder in ("::/EFI", "::/EFI/Microsoft", "::/EFI/Microsoft/Boot", "::/EFI/Boot"):
        run.run(["mmd", "-i", device, folder])
    for target, data in (("::/EFI/Microsoft/Boot/bootmgfw.efi", manager),
                         ("::/EFI/Microsoft/Boot/BCD", b"regf" + rng.randbytes(1020)),
                         ("::/EFI/Boot/bootx64.efi", manager)):
        run.run(["mcopy", "-i", device, "-", target], input=data)


WORDS = ("élève classe réseau sauvegarde restauration poste serveur client école "
         "cahier professeur lundi mardi mercredi jeudi vendredi mathématiques "
         "français histoire géographie sciences musique dessin").split()


def _text(rng: random.Random, size: int) -> bytes:
    out = []
    length = 0
    while length < size:
        line = " ".join(rng.choice(WORDS) for _ in range(12)) + "\n"
        out.append(line)
        length += len(line.encode())
    return "".join(out).encode()[:size]


def _mixed_files(folder: Path, budget: int, rng: random.Random, prefix: str) -> None:
    """A third text, a third program-like binaries, a third incompressible data."""
    folder.mkdir(parents=True, exist_ok=True)
    binaries = [p for p in Path("/usr/bin").iterdir() if p.is_file() and not p.is_symlink()]
    binaries.sort()
    written, index = 0, 0
    while written < budget:
        kind = index % 3
        size = min(budget - written, rng.randint(64 << 10, 4 << 20))
        if kind == 0:
            data = _text(rng, size)
            name = f"{prefix}-notes-{index:04d}.txt"
        elif kind == 1:
            src = binaries[rng.randrange(len(binaries))]
            data = src.read_bytes()[:size] or b"\0"
            name = f"{prefix}-{src.name}-{index:04d}.bin"
        else:
            data = rng.randbytes(size)
            name = f"{prefix}-photo-{index:04d}.jpg"
        (folder / name).write_bytes(data)
        written += len(data)
        index += 1


def fill_windows(root: Path, mb: int, rng: random.Random, *, bios_boot: bool = True) -> None:
    from oscar.engine import registry

    if bios_boot:
        # Windows 7-11 installed on an MBR disk without a "System Reserved" partition: the boot
        # manager and its store at the root of the Windows partition.
        (root / "bootmgr").write_bytes(b"MZ" + rng.randbytes(4094))
        (root / "Boot").mkdir()
        (root / "Boot/BCD").write_bytes(b"regf" + rng.randbytes(1020))

    config = root / "Windows/System32/config"
    config.mkdir(parents=True)
    seed = registry_seed()
    registry.build_system_hive(seed, config / "SYSTEM", computer_name="PC-MODELE",
                               workgroup="ECOLE")
    registry.build_software_hive(seed, config / "SOFTWARE")
    (root / "Windows/System32/drivers/etc").mkdir(parents=True)
    (root / "Windows/System32/drivers/etc/hosts").write_text("127.0.0.1 localhost\r\n")
    (root / "Windows/Panther").mkdir(parents=True)
    program = root / "Program Files/Logiciel Éducatif"
    _mixed_files(program, mb * MIB // 3, rng, "prog")
    for user in ("Professeur", "Élève"):
        docs = root / "Users" / user / "Documents"
        _mixed_files(docs, mb * MIB // 3, rng, "doc")
    long_name = "Compte rendu du conseil de classe du troisième trimestre — année scolaire " \
                "2010-2011 (version définitive, relue et corrigée).txt"
    target = root / "Users/Professeur/Documents" / long_name
    target.write_text("Conseil de classe\n", encoding="utf-8")
    os.link(target, root / "Users/Élève/Documents/lien-dur-compte-rendu.txt")
    # Alternate data streams, as Windows attaches to downloaded files (Zone.Identifier): one on
    # a hard-linked file, one on a plain file.
    os.setxattr(target, "user.Zone.Identifier", b"[ZoneTransfer]\r\nZoneId=3\r\n")
    setup = program / "installer-telecharge.exe"
    setup.write_bytes(b"MZ" + rng.randbytes(4096))
    os.setxattr(setup, "user.Zone.Identifier", b"[ZoneTransfer]\r\nZoneId=3\r\n")


def fill_linux(root: Path, mb: int, rng: random.Random,
               kernel: tuple[Path, Path] | None = None) -> None:
    etc = root / "etc"
    (etc / "ssh").mkdir(parents=True)
    (etc / "os-release").write_text(
        'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n'
        'VERSION_ID="12"\nID=debian\n')
    (etc / "default").mkdir()
    (etc / "default/grub").write_text('GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\n'
                                      'GRUB_CMDLINE_LINUX="console=ttyS0,115200n8"\n')
    boot = root / "boot"
    boot.mkdir()
    if kernel is not None:
        shutil.copy(kernel[0], boot / f"vmlinuz-{LAB_KERNEL_VERSION}")
        shutil.copy(kernel[1], boot / f"initrd.img-{LAB_KERNEL_VERSION}")
    else:
        (boot / f"vmlinuz-{LAB_KERNEL_VERSION}").write_text("OSCAR lab: placeholder kernel\n")
        (boot / f"initrd.img-{LAB_KERNEL_VERSION}").write_text("OSCAR lab: placeholder\n")
    os.symlink(f"boot/vmlinuz-{LAB_KERNEL_VERSION}", root / "vmlinuz")
    (etc / "hostname").write_text("pc-modele\n")
    (etc / "hosts").write_text("127.0.0.1 localhost\n127.0.1.1 pc-modele\n")
    (etc / "machine-id").write_text(hashlib.md5(rng.randbytes(16)).hexdigest() + "\n")
    for kind in ("rsa", "ed25519"):
        key = etc / "ssh" / f"ssh_host_{kind}_key"
        key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n" + rng.randbytes(48).hex() +
                       "\n-----END OPENSSH PRIVATE KEY-----\n")
        key.chmod(0o600)
        (etc / "ssh" / f"ssh_host_{kind}_key.pub").write_text(f"ssh-{kind} AAAA{rng.randbytes(8).hex()}\n")
    (etc / "network").mkdir()
    (etc / "network/interfaces").write_text(
        "auto lo\niface lo inet loopback\n\nallow-hotplug enp1s0\niface enp1s0 inet dhcp\n")
    home = root / "home/eleve"
    # Half of the budget is a real system tree (thousands of small files, as /usr is), half
    # user documents (fewer, bigger files).
    copied = _system_tree(root, mb * MIB // 2)
    _mixed_files(home / "Documents", max(mb * MIB - copied, MIB), rng, "devoir")
    os.chown(home, 1000, 1000)
    for path in (home / "Documents").iterdir():
        os.chown(path, 1000, 1000)
    (home / "Documents/accentué à l'école.txt").write_text("été\n", encoding="utf-8")
    os.symlink("Documents/accentué à l'école.txt", home / "lien-vers-devoir")
    os.symlink("/etc/hostname", home / "lien-absolu")
    os.setxattr(home / "Documents/accentué à l'école.txt", "user.oscar.test", b"valeur")
    sparse = root / "var/lib/sparse.img"
    sparse.parent.mkdir(parents=True)
    with sparse.open("wb") as fh:
        fh.truncate(64 * MIB)
        fh.seek(32 * MIB)
        fh.write(b"milieu du fichier creux\n")
    exe = root / "usr/local/bin/bonjour"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\necho bonjour\n")
    exe.chmod(0o755)


SYSTEM_SOURCES = ("/usr/share/doc", "/usr/lib/python3.11", "/usr/share/locale")


def _system_tree(root: Path, budget: int) -> int:
    """Copy real files of this machine's /usr (with their times and links) up to ``budget``."""
    copied = 0
    for source in SYSTEM_SOURCES:
        for dirpath, dirnames, filenames in os.walk(source):
            dirnames.sort()
            rel = Path(dirpath).relative_to("/")
            (root / rel).mkdir(parents=True, exist_ok=True)
            for name in sorted(filenames + [d for d in dirnames if os.path.islink(
                    os.path.join(dirpath, d))]):
                src = Path(dirpath) / name
                dst = root / rel / name
                if dst.exists() or dst.is_symlink():
                    continue
                if src.is_symlink():
                    os.symlink(os.readlink(src), dst)
                elif src.is_file():
                    size = src.stat().st_size
                    if copied + size > budget:
                        return copied
                    shutil.copy2(src, dst)
                    copied += size
    return copied


def snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    """Everything a restore must keep, per path: content hash, size, mode, type, owner, mtime
    (ns), link target, extended attributes (ADS on NTFS), hard-link grouping."""
    result: dict[str, tuple[object, ...]] = {}
    inode_names: dict[int, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if rel in ("lost+found", "System Volume Information") or rel.startswith("$"):
                continue
            st = path.lstat()
            xattrs: tuple[tuple[str, bytes], ...] = ()
            if not stat.S_ISLNK(st.st_mode):
                try:
                    xattrs = tuple(sorted((a, os.getxattr(path, a)) for a in os.listxattr(path)
                                          if a.startswith("user.")))
                except OSError:
                    xattrs = ()
            content: object = None
            link: object = None
            if stat.S_ISREG(st.st_mode):
                digest = hashlib.blake2b()
                with path.open("rb") as fh:
                    while block := fh.read(1 << 20):
                        digest.update(block)
                content = digest.hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                link = os.readlink(path)
            group = None
            if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                group = inode_names.setdefault(st.st_ino, rel)
            result[rel] = (content, st.st_size, stat.S_IMODE(st.st_mode), stat.S_IFMT(st.st_mode),
                           st.st_uid, st.st_gid, st.st_mtime_ns, link, xattrs, group)
    return result
