"""disque_usb and `oscar copy` on loop devices: a sparse 500 GB disk laid out by `oscar usbdisk
init` (checked with sfdisk -J, blkid, mtools and the files written), backups saved, listed,
verified and restored on both of its partitions (ext4, and NTFS through ntfs-3g), copied
between stores with their checksums, and every refusal leaving the disk as it was.

The live system copied here is a stand-in folder (three small files): booting the USB disk is
the vm tier's job (tests/test_vm_usbdisk.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from oscar.disks.devices import partition_path
from oscar.engine import layout
from oscar.engine.mount import mounted
from oscar.ops import lab as labmod
from tests.conftest import (
    ROOT,
    LabDisks,
    flip_a_byte,
    fs_clean,
    hash_device,
    make_lab,
    oscar,
    release_mount,
    sh,
    snapshot_partition,
)

pytestmark = pytest.mark.storage
GIB = 1 << 30
DISK_500GB = 500_107_862_016  # what a "500 GB" disk holds
DATA = ((1, "ntfs"), (2, "ext4"))  # the model's Windows and Linux partitions
LABELS = [("vfat", "OSCAR-EFI"), ("ext4", "OSCAR-BOOT"), ("ext4", "OSCAR-SAVE"),
          ("ntfs", "OSCAR-ECOLE")]


def blkid(device: str) -> dict[str, str]:
    out = sh("blkid", "-p", "-o", "export", device, check=False).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def mtools(*argv: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(list(argv), capture_output=True,
                          env=dict(os.environ, MTOOLS_SKIP_CHECK="1"))


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("usb-live")
    for name, size in (("vmlinuz", 300_000), ("initrd.img", 500_000),
                       ("filesystem.squashfs", 3_000_000)):
        (folder / name).write_bytes(os.urandom(size))
    return folder


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabDisks]:
    with make_lab(tmp_path_factory.mktemp("usb-lab"), gpt=False, clients=0) as lab:
        yield lab


@pytest.fixture(scope="module")
def usb(tmp_path_factory: pytest.TempPathFactory, live: Path) -> Iterator[str]:
    """A sparse 500 GB disk laid out once by `oscar usbdisk init`; its stores unmounted after."""
    image = tmp_path_factory.mktemp("usb") / "usb-500g.img"
    with image.open("wb") as fh:
        fh.truncate(DISK_500GB)
    device = labmod.attach_image(image)
    try:
        result = oscar("usbdisk", "init", "--disk", device, "--image", str(live),
                       "--no-password", "--yes")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "OSCAR USB disk" in result.stdout
        yield device
    finally:
        oscar("usbdisk", "umount", "--disk", device)
        for line in Path("/proc/self/mounts").read_text().splitlines():
            source, point = line.split()[:2]
            if source.startswith(f"{device}p"):  # whatever a failed test left mounted
                release_mount(Path(point))
        labmod.detach_device(device)
        image.unlink()


def test_the_500gb_layout(usb: str, live: Path) -> None:
    table = json.loads(sh("sfdisk", "-J", usb).stdout)["partitiontable"]
    assert table["label"] == "dos"
    parts = table["partitions"]
    assert [p["type"] for p in parts] == ["ef", "83", "83", "7"]
    assert [bool(p.get("bootable")) for p in parts] == [False, True, False, False]
    sizes = [p["size"] * 512 for p in parts]
    assert sizes[1] == 2 * GIB  # the OSCAR boot partition
    assert abs(sizes[2] - DISK_500GB // 2) < (1 << 20)  # half of the disk
    end = parts[3]["start"] + parts[3]["size"]
    assert DISK_500GB - end * 512 < 2 << 20  # NTFS takes the rest
    for number, (fstype, label) in enumerate(LABELS, 1):
        found = blkid(partition_path(usb, number))
        assert (found.get("TYPE"), found.get("LABEL")) == (fstype, label), (number, found)
        if fstype in ("ext4", "ntfs"):
            fs_clean(partition_path(usb, number), fstype)
    boot_uuid = blkid(partition_path(usb, 2))["UUID"]
    # BIOS: GRUB's boot code in the MBR, its core image after it; the table is intact.
    with open(usb, "rb") as fh:
        head = fh.read(1 << 20)
    assert b"GRUB" in head[:440] and head[510:512] == b"\x55\xaa"
    assert head[512:64 * 1024].strip(b"\0")  # core.img before the first partition
    # UEFI: the fallback loader on the EFI partition, a real EFI executable.
    esp = partition_path(usb, 1)
    # UEFI with Secure Boot: Debian's shim as the fallback loader, the signed GRUB beside it,
    # and the two lines that lead it to OSCAR-BOOT's menu.
    loader = mtools("mtype", "-i", esp, "::/EFI/BOOT/BOOTX64.EFI")
    assert loader.returncode == 0
    assert loader.stdout == Path("/usr/lib/shim/shimx64.efi.signed").read_bytes()
    grub = mtools("mtype", "-i", esp, "::/EFI/BOOT/grubx64.efi").stdout
    assert grub == Path("/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed").read_bytes()
    early = mtools("mtype", "-i", esp, "::/EFI/BOOT/grub.cfg").stdout.decode()
    assert f"--fs-uuid --set=root {boot_uuid}" in early
    with mounted(partition_path(usb, 2), "ext4", readonly=True) as root:
        for name in ("vmlinuz", "initrd.img", "filesystem.squashfs"):
            assert (root / "boot/live" / name).read_bytes() == (live / name).read_bytes()
        assert len((root / "boot/live/B2SUMS").read_text().splitlines()) == 3
        menu = (root / "boot/grub/grub.cfg").read_text()
        assert (root / "boot/grub/i386-pc/normal.mod").is_file()
        assert (root / "boot/grub/x86_64-efi/normal.mod").is_file()
    assert f"search --no-floppy --fs-uuid --set=root {boot_uuid}" in menu
    assert f"live-media=/dev/disk/by-uuid/{boot_uuid}" in menu
    for entry in ('menuentry "OSCAR"', 'menuentry "restaure"', 'menuentry "OSCAR (English)"'):
        assert entry in menu
    assert "password_pbkdf2" not in menu  # --no-password, said in the plan


def mount_stores(usb: str) -> dict[str, Path]:
    result = oscar("usbdisk", "mount", "--disk", usb)
    assert result.returncode == 0, result.stderr
    points = {}
    for line in result.stdout.splitlines():
        label, _sep, point = line.partition(": ")
        points[label.split()[0]] = Path(point)
    assert set(points) == {"OSCAR-SAVE", "OSCAR-ECOLE"}, result.stdout
    return points


@pytest.mark.parametrize("label", ["OSCAR-SAVE", "OSCAR-ECOLE"])
def test_save_list_verify_restore_on_each_partition(usb: str, model: LabDisks, label: str,
                                                    blank_disk: Callable[..., str]) -> None:
    store = mount_stores(usb)[label]
    fstype = "ext4" if label == "OSCAR-SAVE" else "fuseblk"
    assert any(f" {store} {fstype} " in line for line in
               Path("/proc/self/mounts").read_text().splitlines()), store
    saved = oscar("save", "--disk", model.model, "--store", str(store), "--name", "pc-b12",
                  "--yes")
    assert saved.returncode == 0, saved.stderr
    listing = json.loads(oscar("list", str(store), "--json").stdout)
    assert [(b["name"], b["state"]) for b in listing] == [("pc-b12", "complete")]
    verified = oscar("verify", str(store / "pc-b12"))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    target = blank_disk()
    restored = oscar("restore", "--disk", target, "--store", str(store), "--name", "pc-b12",
                     "--with-table", "--yes")
    assert restored.returncode == 0, restored.stderr
    for number, fstype_ in DATA:
        fs_clean(partition_path(target, number), fstype_)
        assert snapshot_partition(partition_path(target, number), fstype_) == \
            snapshot_partition(model.part(model.model, number), fstype_)
    # the USB disk is never a target while it holds the store in use
    refused = oscar("restore", "--disk", usb, "--store", str(store), "--name", "pc-b12",
                    "--with-table", "--yes")
    assert refused.returncode != 0 and "hint:" in refused.stderr


def test_copy_between_the_pc_and_the_usb_disk(usb: str, model: LabDisks) -> None:
    stores = mount_stores(usb)
    school = stores["OSCAR-ECOLE"]
    saved = oscar("save", "--disk", model.model, "--store", str(model.store), "--name", "b12-pc03",
                  "--yes")
    assert saved.returncode == 0, saved.stderr
    copied = oscar("copy", "--from", str(model.store), "--name", "b12-pc03", "--to", str(school))
    assert copied.returncode == 0, copied.stderr
    assert "verified" in copied.stdout
    assert oscar("verify", str(school / "b12-pc03")).returncode == 0
    for name in os.listdir(model.store / "b12-pc03"):
        if (model.store / "b12-pc03" / name).is_file():
            assert (school / "b12-pc03" / name).read_bytes() == \
                (model.store / "b12-pc03" / name).read_bytes(), name
    # back to the PC under another name, then the same name again: replaced atomically
    back = oscar("copy", "--from", str(school), "--name", "b12-pc03", "--to", str(model.store),
                 "--as", "b12-pc03-usb")
    assert back.returncode == 0, back.stderr
    assert oscar("verify", str(model.store / "b12-pc03-usb")).returncode == 0
    same = oscar("copy", "--from", str(model.store), "--name", "b12-pc03", "--to",
                 str(model.store))
    assert same.returncode == 2 and "same folder" in same.stderr


def test_a_damaged_source_is_never_copied(usb: str, model: LabDisks) -> None:
    stores = mount_stores(usb)
    school = stores["OSCAR-ECOLE"]
    saved = oscar("save", "--disk", model.model, "--store", str(model.store), "--name", "dmg",
                  "--yes")
    assert saved.returncode == 0, saved.stderr
    first = oscar("copy", "--from", str(model.store), "--name", "dmg", "--to", str(school))
    assert first.returncode == 0, first.stderr
    before = {n: (school / "dmg" / n).read_bytes() for n in os.listdir(school / "dmg")
              if (school / "dmg" / n).is_file()}
    image = max((p for p in (model.store / "dmg").iterdir() if p.is_file()),
                key=lambda p: p.stat().st_size)
    flip_a_byte(image)
    result = oscar("copy", "--from", str(model.store), "--name", "dmg", "--to", str(school))
    assert result.returncode == 6, result.stdout + result.stderr
    assert "does not match its checksum" in result.stderr and "hint:" in result.stderr
    after = {n: (school / "dmg" / n).read_bytes() for n in os.listdir(school / "dmg")
             if (school / "dmg" / n).is_file()}
    assert after == before
    assert not [n for n in os.listdir(school) if n.startswith(".oscar-partial-")]


def test_a_killed_copy_keeps_the_previous_one_and_a_rerun_completes(usb: str,
                                                                     model: LabDisks) -> None:
    school = mount_stores(usb)["OSCAR-ECOLE"]
    saved = oscar("save", "--disk", model.model, "--store", str(model.store), "--name", "kill",
                  "--yes")
    assert saved.returncode == 0, saved.stderr
    assert oscar("copy", "--from", str(model.store), "--name", "kill", "--to",
                 str(school)).returncode == 0
    previous = (school / "kill" / "B2SUMS").read_bytes()
    saved = oscar("save", "--disk", model.model, "--store", str(model.store), "--name", "kill",
                  "--yes")  # a newer backup of the same name
    assert saved.returncode == 0, saved.stderr
    env = dict(os.environ, OSCAR_LANG="en", PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "oscar", "copy", "--from", str(model.store),
                             "--name", "kill", "--to", str(school)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    partial = school / ".oscar-partial-kill"
    end = time.monotonic() + 30
    while not partial.exists() and time.monotonic() < end and proc.poll() is None:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    listing = json.loads(oscar("list", str(school), "--json").stdout)
    assert ("kill", "complete") in [(b["name"], b["state"]) for b in listing]
    assert oscar("verify", str(school / "kill")).returncode == 0
    if proc.returncode == -signal.SIGKILL:  # killed mid-copy: the old copy is still there
        assert (school / "kill" / "B2SUMS").read_bytes() == previous
    rerun = oscar("copy", "--from", str(model.store), "--name", "kill", "--to", str(school))
    assert rerun.returncode == 0, rerun.stderr
    assert (school / "kill" / "B2SUMS").read_bytes() == \
        (model.store / "kill" / "B2SUMS").read_bytes()
    assert not [n for n in os.listdir(school) if n.startswith(".oscar-")]


def test_refusals_write_nothing(blank_disk: Callable[..., str], live: Path,
                                tmp_path: Path) -> None:
    small = blank_disk(8 * GIB, "small")
    before = hash_device(small)
    cases = [
        ([], {}, "needs at least 500.0 GB", 5),
        (["--allow-small"], {"OSCAR_BOOT_DEVICE": small}, "started from", 5),
        (["--allow-small", "--image", str(tmp_path)], {}, "does not hold the OSCAR live", 2),
    ]
    for extra, env, message, code in cases:
        argv = ["usbdisk", "init", "--disk", small, "--no-password", "--yes",
                *(["--image", str(live)] if "--image" not in extra else []), *extra]
        result = oscar(*argv, env=env)
        assert result.returncode == code, (extra, result.stdout, result.stderr)
        assert message in result.stderr and "hint:" in result.stderr, result.stderr
    nopass = oscar("usbdisk", "init", "--disk", small, "--image", str(live), "--allow-small",
                   "--yes", env={"OSCAR_CONFIG": str(tmp_path / "none.yaml")})
    assert nopass.returncode == 2 and "No password is set" in nopass.stderr
    # a mounted partition: refused, nothing written
    sh("sfdisk", "--quiet", small, input="label: dos\n\ntype=83\n")
    sh("partx", "-a", small, check=False)
    sh("mkfs.ext4", "-q", "-L", "DATA", partition_path(small, 1))
    before = hash_device(small)
    point = tmp_path / "mnt"
    point.mkdir()
    sh("mount", "-o", "ro", partition_path(small, 1), str(point))  # ro: the mount writes nothing
    try:
        busy = oscar("usbdisk", "init", "--disk", small, "--image", str(live), "--allow-small",
                     "--no-password", "--yes")
    finally:
        sh("umount", str(point))
    assert busy.returncode == 5 and "mounted or in use" in busy.stderr, busy.stderr
    assert hash_device(small) == before
    # no terminal and no --yes: nothing is written either
    quiet = oscar("usbdisk", "init", "--disk", small, "--image", str(live), "--allow-small",
                  "--no-password")
    assert quiet.returncode != 0 and "--yes" in quiet.stderr
    assert hash_device(small) == before


def test_a_small_disk_laid_out_through_the_menu(blank_disk: Callable[..., str], live: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    from oscar.core import config
    from oscar.ops import bootinstall
    from oscar.ui.tui.app import App
    from oscar.ui.tui.main import build
    from tests.test_storage_tui import choose

    disk = blank_disk(8 * GIB, "key")
    monkeypatch.setattr(bootinstall, "LIVE_SOURCES", (str(live),))
    app = App(config.Config(), headless=True)
    build(app, restaure=False, store=str(tmp_path))
    # set after the menu opened (at start it would be asked): the USB disk's menu uses it
    app.config.password_hash = config.hash_password("ecole42")
    app.press("t", "enter")  # Tools (Outils)
    choose(app, "disque_usb")
    choose(app, Path(disk).name)
    assert "500.0 GB" in app.screen_text()  # under 500 GB: said, and asked
    app.press("enter")  # lay it out anyway
    text = app.screen_text()
    assert "no serial number, 8.6 GB" in text and "OSCAR-ECOLE" in text, text
    assert f"Type {Path(disk).name} to confirm" in text
    app.press(*Path(disk).name, "enter")  # the disk's name, typed to confirm
    app.wait_task()
    assert "is an OSCAR USB disk" in app.screen_text(), app.screen_text()
    found = [(blkid(partition_path(disk, n)).get("TYPE"), blkid(partition_path(disk, n)).get(
        "LABEL")) for n in range(1, 5)]
    assert found == LABELS
    with mounted(partition_path(disk, 2), "ext4", readonly=True) as root:
        assert "password_pbkdf2 oscar grub.pbkdf2.sha512." in (root / "boot/grub/grub.cfg").read_text()
    assert layout.usb_plan(8 * GIB)[2].size == 4 * GIB  # OSCAR-SAVE: half of the key


def test_the_menu_asks_where_the_backups_are(usb: str, model: LabDisks) -> None:
    """With an OSCAR USB disk plugged in, Sauvegarde first asks where the backups go: the PC's
    OSCAR partition, OSCAR-SAVE or OSCAR-ECOLE; the one chosen is mounted and used."""
    from oscar.core import config
    from oscar.ui.tui.app import App
    from oscar.ui.tui.main import build
    from tests.test_storage_tui import choose

    oscar("usbdisk", "umount", "--disk", usb)
    app = App(config.Config(), headless=True)
    context = build(app, restaure=False, store=None)
    app.press("s", "enter")
    text = app.screen_text()
    assert "Where are the backups?" in text, text
    assert "This PC" in text and "OSCAR-SAVE" in text and "OSCAR-ECOLE" in text
    choose(app, "OSCAR-ECOLE")
    assert "Which disk do you want to save?" in app.screen_text(), app.screen_text()
    assert Path(model.model).name in app.screen_text()
    point = Path(f"/run/oscar/usb-school-{Path(partition_path(usb, 4)).name}")
    assert os.path.ismount(point)
    assert getattr(context, "store_path", None) == point
    app.press("esc", "esc")  # back to the main menu: the next flow asks again
    app.press("s", "enter")
    assert "Where are the backups?" in app.screen_text(), app.screen_text()
    choose(app, "This PC")
    assert getattr(context, "store_path", None) == model.store


def test_a_gpt_usb_disk_keeps_grub_in_its_bios_boot_partition(blank_disk: Callable[..., str],
                                                                live: Path) -> None:
    """Over 2 TiB the layout is GPT (forced here with --gpt on a small disk): GRUB's BIOS code
    goes into the BIOS boot partition, the EFI partition and the rest as on MBR."""
    disk = blank_disk(8 * GIB, "gpt")
    result = oscar("usbdisk", "init", "--disk", disk, "--gpt", "--allow-small", "--image",
                   str(live), "--no-password", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    table = json.loads(sh("sfdisk", "-J", disk).stdout)["partitiontable"]
    assert table["label"] == "gpt"
    parts = table["partitions"]
    assert [p["type"] for p in parts] == [
        "21686148-6449-6E6F-744E-656564454649", "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
        "0FC63DAF-8483-4772-8E79-3D69D8477DE4", "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
        "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"]
    for number, (fstype, label) in enumerate(LABELS, 2):
        found = blkid(partition_path(disk, number))
        assert (found.get("TYPE"), found.get("LABEL")) == (fstype, label), (number, found)
    with open(partition_path(disk, 1), "rb") as fh:
        assert fh.read(1 << 20).strip(b"\0")  # GRUB's core image
    with open(disk, "rb") as fh:
        assert b"GRUB" in fh.read(440)
    loader = mtools("mtype", "-i", partition_path(disk, 2), "::/EFI/BOOT/BOOTX64.EFI")
    assert loader.returncode == 0 and loader.stdout[:2] == b"MZ"
