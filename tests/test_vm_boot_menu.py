"""OSCAR on the PC's own disk, booted in qemu -accel tcg: the lab's model PC saved, OSCAR
installed on it (`oscar install`), damaged by a "virus", then the teacher's path: restaure in
the boot menu, the password (a wrong one first), and the PC comes back by itself. MBR disk
under BIOS (SeaBIOS), GPT disk under UEFI with Secure Boot enforced (OVMF, Microsoft's keys),
whose menu is then repaired (`oscar grub --repair`) and starts again. Checked on the host
after the VM is off."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from oscar.disks.devices import partition_path
from oscar.engine.mount import mounted
from oscar.ops import lab as labmod
from tests.conftest import LAB_DATA_MB, LAB_SIZE, OUT, fs_clean, oscar, sh, snapshot_partition
from tests.vm import Qemu

pytestmark = pytest.mark.vm
PASSWORD = "azerty42m"  # a, z, m and digits sit elsewhere on AZERTY than on QWERTY
DOWN = "\x1b[B"
BOOT_TIMEOUT = 600
SYSTEMS = ("Windows 10 Education", "Debian GNU/Linux 12 (bookworm)")


@pytest.fixture
def pc(iso: Path, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    """The model PC with a backup on its OSCAR partition and OSCAR's boot menu installed; its
    Linux partition carries the live image's real kernel, so that its entry really starts."""
    gpt = request.param == "gpt"
    root = tmp_path / "lab"
    labmod.create(root, clients=0, gpt=gpt, size=2 * LAB_SIZE, data_mb=LAB_DATA_MB,
                  kernel=(OUT / "vmlinuz", OUT / "initrd.img"))
    env = {"OSCAR_CONFIG": str(tmp_path / "oscar.yaml"), "HOME": str(tmp_path)}
    assert oscar("password", "--stdin", env=env, stdin=PASSWORD + "\n").returncode == 0
    device = labmod.attach_image(root / "model.img")
    store = tmp_path / "store"
    store.mkdir()
    try:
        sh("mount", partition_path(device, 4), str(store))
        try:
            saved = oscar("save", "--disk", device, "--store", str(store), "--name", "pc07",
                          "--yes", env=env)
            assert saved.returncode == 0, saved.stderr
            installed = oscar("install", "--disk", device, "--image", str(OUT), "--timeout",
                              "60", "--yes", env=env)
            assert installed.returncode == 0, installed.stderr
            assert " | ".join([*SYSTEMS, "OSCAR", "restaure"]) in installed.stdout
            logs = [str(p) for p in (tmp_path / ".cache", Path("/var/log/oscar")) if p.exists()]
            clear = sh("grep", "-rl", PASSWORD, str(store), *logs, check=False)
            assert clear.stdout == "", clear.stdout  # the password is in no file, no log
        finally:
            sh("umount", str(store))
    finally:
        labmod.detach_device(device)
    yield root / "model.img"
    labmod.destroy(root)


def virus(image: Path) -> dict[str, dict[str, tuple[object, ...]]]:
    """Snapshots of the systems as saved, then the damage: files deleted, changed, added."""
    device = labmod.attach_image(image)
    try:
        windows, linux = partition_path(device, 1), partition_path(device, 2)
        original = {"ntfs": snapshot_partition(windows, "ntfs"),
                    "ext4": snapshot_partition(linux, "ext4")}
        with mounted(windows, "ntfs") as win:
            shutil.rmtree(win / "Users/Professeur")
            with (win / "Windows/System32/drivers/etc/hosts").open("a") as fh:
                fh.write("6.6.6.6 www.banque.fr\r\n")
            (win / "Windows/System32/virus.exe").write_bytes(os.urandom(100_000))
        with mounted(linux, "ext4") as lin:
            shutil.rmtree(lin / "home/eleve/Documents")
            (lin / "etc/hostname").write_text("pirate\n")
        assert snapshot_partition(windows, "ntfs") != original["ntfs"]
    finally:
        labmod.detach_device(device)
    return original


def choose_restaure(vm: Qemu, password: str, on_serial: bool = False) -> None:
    """restaure, then the user name and the password at GRUB's prompts: the password typed
    on the PC's keyboard with a French (AZERTY) layout, as a teacher does."""
    for _entry in range(3):  # Windows (the default), Linux, OSCAR, restaure
        vm.send(DOWN, pause=0.7)
    vm.send("\r")
    vm.wait_for("Enter username:", 60)
    vm.send("oscar\r")
    vm.wait_for("Enter password:", 60)
    if on_serial:  # the characters themselves reach GRUB
        vm.send(password + "\r")
    else:
        vm.type_on_azerty(password)
        vm.sendkey("ret")


@pytest.mark.parametrize("pc", ["mbr", "gpt"], indirect=True)
def test_restaure_in_the_pc_boot_menu_brings_the_pc_back(pc: Path, tmp_path: Path) -> None:
    uefi = _is_gpt(pc)
    original = virus(pc)
    # UEFI with Secure Boot enforced: the firmware starts shim from the ESP, shim Debian's
    # signed GRUB, which takes the password with its built-in password_pbkdf2.
    vm = Qemu(disks=[pc], secure_boot=uefi, log=tmp_path / "serial.log")
    try:
        # The menu is drawn and reads keys once its countdown line shows (OVMF draws slowly).
        vm.wait_for("executed automatically", 300)
        text = vm.text()
        for title in (*SYSTEMS, "OSCAR", "restaure"):
            assert title in text, title
        # The characters themselves are refused: the hash is of what GRUB receives from the
        # French keys, which then open it.
        choose_restaure(vm, PASSWORD, on_serial=True)
        vm.wait_for("access denied", 60)  # refused: back to the menu
        vm.wait_for("restaure", 60)
        vm.send("", pause=3)
        choose_restaure(vm, PASSWORD)
        vm.wait_exit(BOOT_TIMEOUT + 1200)  # restored, then restarted by itself (-no-reboot)
        text = vm.text()
        # restaure runs on the PC's screen; the serial line shows a copy of it, to the end.
        # Nothing to answer; the proof is the disk, checked below.
        assert "Copie de l'écran de ce PC" in text and "Le PC a été restauré" in text, \
            text[-3000:]
        if uefi:
            assert "SecureBoot enabled" in text  # the kernel's word, through mokutil
    finally:
        if vm.proc.poll() is None:  # failed: keep what the PC's screen shows (tty1)
            vm.screendump(tmp_path / "screen-at-failure.png")
        vm.close()

    device = labmod.attach_image(pc)
    try:
        windows, linux = partition_path(device, 1), partition_path(device, 2)
        assert snapshot_partition(windows, "ntfs") == original["ntfs"]
        assert snapshot_partition(linux, "ext4") == original["ext4"]
        fs_clean(windows, "ntfs")
        fs_clean(linux, "ext4")
        fs_clean(partition_path(device, 4), "ext4")  # the OSCAR partition was left clean
    finally:
        labmod.detach_device(device)

    if uefi:
        repaired_menu_starts_under_secure_boot(pc, tmp_path)
        return
    # The installed Linux starts for anyone, from its own kernel and initrd: its initramfs
    # finds its root filesystem by UUID (the lab's tree has no init to go further).
    vm = Qemu(disks=[pc], log=tmp_path / "serial-linux.log")
    try:
        vm.wait_for("executed automatically", 300)
        vm.send(DOWN, pause=1)
        vm.send("\r")
        vm.wait_for("/sbin/init", 300)
        assert "Enter username:" not in vm.text()
    finally:
        vm.close()


def repaired_menu_starts_under_secure_boot(pc: Path, tmp_path: Path) -> None:
    """`oscar grub --repair` rewrites the signed chain and the menu; the PC, Secure Boot on,
    starts into that menu again, and its Windows entry chainloads Windows' boot manager. The
    lab's stand-in for bootmgfw.efi is replaced by a binary signed by Microsoft (shim): the
    firmware checks what GRUB chainloads against its own keys, as it would Windows'."""
    env = {"OSCAR_CONFIG": str(tmp_path / "oscar.yaml"), "HOME": str(tmp_path)}
    device = labmod.attach_image(pc)
    try:
        repaired = oscar("grub", "--repair", "--disk", device, "--timeout", "30", "--yes",
                         env=env)
        assert repaired.returncode == 0, repaired.stderr
        assert "signed boot chain" in repaired.stdout, repaired.stdout
        sh("mcopy", "-o", "-i", partition_path(device, 5), "/usr/lib/shim/shimx64.efi.signed",
           "::/EFI/Microsoft/Boot/bootmgfw.efi", env={**os.environ, "MTOOLS_SKIP_CHECK": "1"})
    finally:
        labmod.detach_device(device)
    vm = Qemu(disks=[pc], secure_boot=True, log=tmp_path / "serial-repaired.log")
    try:
        vm.wait_for("executed automatically", 300)
        text = vm.text()
        assert all(title in text for title in (*SYSTEMS, "OSCAR", "restaure")), text[-2000:]
        since = vm.mark()
        vm.send("\r")  # the default: Windows, for anyone
        # the Microsoft-signed stand-in runs (it looks for its own next stage, absent here)
        vm.wait_for("grubx64.efi", 120, since=since)
        assert "Access Denied" not in vm.text()[-2000:]
    finally:
        vm.close()


def _is_gpt(image: Path) -> bool:
    with image.open("rb") as fh:
        fh.seek(512)
        return fh.read(8) == b"EFI PART"
