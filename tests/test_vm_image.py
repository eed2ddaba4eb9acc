"""The live image: built from Debian packages (bootimage/build.py) and booted in qemu -accel tcg,
BIOS (SeaBIOS) and UEFI (OVMF), watched and driven over the serial console."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import OUT, ROOT
from tests.vm import Qemu

pytestmark = pytest.mark.vm
BOOT_TIMEOUT = 600  # tcg on 2 cores: GRUB, the kernel, live-boot, systemd, the menu
DOWN = "\x1b[B"


@pytest.fixture
def vm_log(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "serial.log"
    yield path


# BIOS from the CD into the French menu is the first part of
# test_save_damage_restore_inside_the_booted_image (one boot fewer for the same checks).
@pytest.mark.parametrize("firmware, medium, entry", [("bios", "usb", "OSCAR"),
                                                     ("secure-boot", "cdrom", "OSCAR (English)")])
def test_iso_boots_into_the_oscar_menu(iso: Path, firmware: str, medium: str, entry: str,
                                       vm_log: Path) -> None:
    """BIOS from the ISO written to a key; UEFI with Secure Boot enforced from the CD (shim,
    Debian's signed GRUB and kernel), then gparted on the PC's screen and back."""
    vm = Qemu(iso=iso if medium == "cdrom" else None, usb_key=iso if medium == "usb" else None,
              secure_boot=firmware == "secure-boot", log=vm_log)
    try:
        vm.wait_for("OSCAR (English)", 180)  # GRUB's menu, on the serial line too
        text = vm.text()
        assert "restaure" in text and "OSCAR" in text
        if entry == "OSCAR (English)":
            vm.send(DOWN * 2, pause=1)
        vm.send("\r")
        first, second = (  # French by default, English on request
            ("Sauvegarder les partitions de ce PC", "Restauration") if entry == "OSCAR"
            else ("Save the partitions of this PC", "Restore"))
        seconds = vm.wait_for(first, BOOT_TIMEOUT)
        vm.wait_for(second, 30)
        print(f"{firmware}/{medium}/{entry}: menu on the serial console {seconds:.0f} s after GRUB")
        if firmware == "secure-boot":
            text = vm.text()
            assert "SecureBoot enabled" in text  # the kernel's word, through mokutil
            assert "UEFI, Secure Boot on" in text  # and the menu says it
            gparted_opens_and_closes(vm, vm_log.parent)
    finally:
        vm.close()


def screen_shares(screen: Path) -> tuple[float, float]:
    """Of a PPM screendump: the share of light pixels (a GTK window; a text console or a bare
    X root window is black) and of GTK's own window grey (Adwaita's #f6f5f4: gparted's menu
    bar, toolbar and status bar)."""
    data = screen.read_bytes()
    header = re.match(rb"P6\s+(\d+)\s+(\d+)\s+255\s", data)
    assert header is not None, data[:20]
    width, height = int(header.group(1)), int(header.group(2))
    pixels = data[header.end():header.end() + width * height * 3]
    step = 3 * 7  # every 7th pixel is plenty
    samples = [pixels[i:i + 3] for i in range(0, len(pixels) - 2, step)]
    light = sum(1 for p in samples if min(p) >= 0xdc)
    grey = sum(1 for p in samples if abs(p[0] - 0xf6) < 4 and abs(p[1] - 0xf5) < 4
               and abs(p[2] - 0xf4) < 4)
    return light / len(samples), grey / len(samples)


def header_height(screen: Path) -> int:
    """Of a PPM screendump of the menu: how many pixel rows the blue header bar is tall."""
    data = screen.read_bytes()
    header = re.match(rb"P6\s+(\d+)\s+(\d+)\s+255\s", data)
    assert header is not None, data[:20]
    width, height = int(header.group(1)), int(header.group(2))
    pixels = data[header.end():]
    rows = 0
    for y in range(height):
        offset = 3 * (y * width + width * 3 // 4)  # right of the header's text
        red, green, blue = pixels[offset:offset + 3]
        if not (blue >= 0x80 and red < 0x40 and green < 0x40):
            break
        rows += 1
    return rows


def gparted_opens_and_closes(vm: Qemu, folder: Path) -> None:
    """Tools → Partition with gparted: an X session on the PC's screen (the VGA card) shows
    gparted's window; GParted → Quit closes it and the menu comes back."""
    vm.send("t", 1)  # Tools
    vm.send("\r", 2)
    vm.wait_for("Choose a tool", 60)
    vm.send(DOWN, 1)  # Prepare a disk, then Partition with gparted
    vm.send("\r", 2)
    vm.wait_for("close it to come back", 60)
    light = grey = 0.0
    end = time.monotonic() + 300
    while time.monotonic() < end and not (light >= 0.2 and grey >= 0.03):
        vm.send("", pause=10)
        shot = folder / "gparted.ppm"
        shot.unlink(missing_ok=True)
        if vm.screendump(shot, fmt="ppm"):
            light, grey = screen_shares(shot)
    # gparted's window (no window manager: at the top left, about 780x500 of 1280x800)
    assert light >= 0.2 and grey >= 0.03, f"no gparted window: {light:.0%} light, {grey:.0%} grey"
    since = vm.mark()
    # GParted → Quit through its menu: keys whose place is the same on AZERTY (X takes the
    # French layout) and on qemu's US scancodes (Ctrl+Q would arrive as Ctrl+A)
    for key in ("alt-g", "down", "down", "ret"):
        vm.sendkey(key)
        vm.send("", pause=3)
    vm.wait_for("Choose a tool", 120, since=since)  # gparted closed, X gone: OSCAR's menu


# Firmware of the wired network cards of school PCs, by the driver that loads it.
NETWORK_FIRMWARE = {"r8169 (Realtek)": "rtl_nic/", "tg3 (Broadcom)": "tigon/",
                    "bnx2 (Broadcom)": "bnx2/", "bnx2x (Broadcom)": "bnx2x/",
                    "e100 (Intel)": "e100/", "ice (Intel)": "intel/ice/"}


def test_network_firmware_is_in_the_live_system_and_its_initrd(iso: Path) -> None:
    """Real PCs' network cards need non-free firmware, which qemu never shows: in the squashfs
    (the running system) and in the initrd (live-boot fetching the system over the network)."""
    squashfs = subprocess.run(["unsquashfs", "-l", str(OUT / "filesystem.squashfs")],
                              capture_output=True, text=True, check=True).stdout
    initrd = subprocess.run(["lsinitramfs", str(OUT / "initrd.img")], capture_output=True,
                            text=True, check=True).stdout
    for card, folder in NETWORK_FIRMWARE.items():
        assert f"/usr/lib/firmware/{folder}" in squashfs, card
        assert f"usr/lib/firmware/{folder}" in initrd, card
    # BitLocker: dislocker and FUSE, to open a Windows 11 volume with its key
    for program in ("/usr/bin/dislocker", "/usr/bin/dislocker-fuse"):
        assert program in squashfs, program
    assert iso.stat().st_size <= 400_000_000


UP = "\x1b[A"


@pytest.fixture(scope="module")
def protected_iso(iso: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same image with a menu password (only its PBKDF2 hash goes in)."""
    from oscar.core import config

    folder = tmp_path_factory.mktemp("protected")
    hash_file = folder / "hash"
    hash_file.write_text(config.hash_password("ecole42"))
    result = subprocess.run([sys.executable, str(ROOT / "bootimage/build.py"), "--fast",
                             "--out", str(folder / "out"), "--password-hash-file",
                             str(hash_file)], capture_output=True, text=True, timeout=3600)
    assert result.returncode == 0, result.stderr[-5000:]
    image = folder / "out/oscar.iso"
    grub_cfg = subprocess.run(["xorriso", "-osirrox", "on", "-indev", str(image), "-extract",
                               "/boot/grub/grub.cfg", str(folder / "grub.cfg")],
                              capture_output=True, text=True)
    assert grub_cfg.returncode == 0, grub_cfg.stderr
    text = (folder / "grub.cfg").read_text()
    assert "password_pbkdf2 oscar grub.pbkdf2.sha512.10000." in text and "ecole42" not in text
    assert "set default=disk" in text  # a protected default would wait for a user name forever
    return image


def choose_oscar_with_password(vm: Qemu, password: str) -> None:
    vm.send(UP * 3, pause=1)  # from the default (the hard disk) up to OSCAR
    vm.send("\r")
    vm.wait_for("Enter username:", 30)
    vm.send("oscar\r")
    vm.wait_for("Enter password:", 30)
    vm.send(password + "\r")


def test_password_guards_oscar_entries(protected_iso: Path, vm_log: Path) -> None:
    """Under Secure Boot: the signed GRUB's built-in password_pbkdf2 refuses the wrong
    password and takes the right one."""
    vm = Qemu(iso=protected_iso, secure_boot=True, log=vm_log)
    started = False
    try:
        vm.wait_for("OSCAR (English)", 180)
        choose_oscar_with_password(vm, "wrong")
        vm.wait_for("access denied", 30)  # refused, back to the menu
        vm.wait_for("OSCAR (English)", 30)
        choose_oscar_with_password(vm, "ecole42")
        vm.wait_for("Sauvegarde", BOOT_TIMEOUT)
        started = True
    finally:
        if not started:  # what tty1 shows: the serial line may say nothing of a stuck boot
            vm.screendump(vm_log.with_name("screen-at-failure.png"))
        vm.close()


END = "\x1b[4~"


def test_save_damage_restore_inside_the_booted_image(iso: Path, tmp_path: Path,
                                                     vm_log: Path) -> None:
    """The lab's model PC as the VM's virtio disk: saved onto its own OSCAR partition, damaged
    from the menu's shell, restored, the VM powered off from the menu; then checked here."""
    from oscar.ops import lab as labmod
    from tests.conftest import LAB_DATA_MB, LAB_SIZE, fs_clean, snapshot_partition

    root = tmp_path / "lab"
    labmod.create(root, clients=0, size=LAB_SIZE, data_mb=LAB_DATA_MB)
    model = root / "model.img"
    device = labmod.attach_image(model)
    try:
        original = snapshot_partition(f"{device}p1", "ntfs")
    finally:
        labmod.detach_device(device)

    vm = Qemu(iso=iso, disks=[model], log=vm_log)
    try:
        vm.wait_for("OSCAR (English)", 180)  # GRUB's menu from the CD (BIOS), on the serial line
        text = vm.text()
        assert "restaure" in text and "OSCAR" in text
        vm.wait_for("Sauvegarder les partitions de ce PC", BOOT_TIMEOUT)  # French by default
        vm.wait_for("Restauration", 30)
        vm.send("s", 1)
        vm.send("\r", 2)
        vm.wait_for("vda", 60)  # the PC's disk; the boot medium is not offered
        vm.send("\r", 2)
        vm.wait_for("[X] 1  ntfs", 60)
        vm.send(END, 1)
        vm.send("\r", 2)
        vm.wait_for("Nom de la sauvegarde", 60)
        vm.send(END, 1)
        vm.send("\r", 2)
        vm.wait_for("Lancer la sauvegarde", 60)
        vm.send("\r", 2)
        vm.wait_for("Sauvegarde complète et vérifiée", 1200)
        vm.send("\r", 2)

        vm.send("o", 1)  # Outils > Shell: the "virus"
        vm.send("\r", 2)
        vm.send("s", 1)
        vm.send("\r", 2)
        vm.wait_for("exit", 60)
        vm.send("mkdir -p /mnt/w && ntfs-3g /dev/vda1 /mnt/w && rm -rf /mnt/w/Users && "
                "umount /mnt/w && dd if=/dev/zero of=/dev/vda1 bs=512 count=1 && "
                "echo DAMAGE-$((40+2))\r", 2)
        vm.wait_for("DAMAGE-42", 120)
        vm.send("exit\r", 3)
        vm.wait_for("Choisissez un outil", 60)
        vm.send("\x1b", 2)  # back to the main menu

        vm.send("r", 1)
        vm.send("\r", 2)
        vm.wait_for("Quelle sauvegarde", 60)
        vm.send("\r", 2)  # the newest
        vm.wait_for("sauvegardée depuis ce disque", 60)
        vm.send("\r", 2)
        vm.wait_for("Partitions à restaurer", 60)
        vm.send(END, 1)
        vm.send("\r", 2)
        vm.wait_for("Tout le contenu de ces partitions", 60)
        vm.send("\r", 2)
        vm.wait_for("terminée", 1200)
        vm.send("\r", 2)

        vm.send("o", 1)  # Outils > Éteindre (the last item), confirmed
        vm.send("\r", 2)
        vm.send(END, 1)
        vm.send("\r", 2)
        vm.wait_for("Éteindre le PC maintenant", 60)
        vm.send("\r", 2)
        vm.wait_exit(300)  # the VM powered itself off
    finally:
        vm.close()

    device = labmod.attach_image(model)
    try:
        assert snapshot_partition(f"{device}p1", "ntfs") == original
        fs_clean(f"{device}p1", "ntfs")
    finally:
        labmod.detach_device(device)


def test_restaure_entry_restores_the_pc_and_restarts_it(iso: Path, tmp_path: Path,
                                                        vm_log: Path) -> None:
    """The boot menu's "restaure": no question but the countdown, the PC's newest backup from its
    own OSCAR partition back on the damaged partition, then a restart (qemu -no-reboot exits)."""
    from oscar.ops import lab as labmod
    from tests.conftest import LAB_DATA_MB, LAB_SIZE, oscar, sh, snapshot_partition

    root = tmp_path / "lab"
    labmod.create(root, clients=0, size=LAB_SIZE, data_mb=LAB_DATA_MB)
    model = root / "model.img"
    device = labmod.attach_image(model)
    store = tmp_path / "store"
    store.mkdir()
    try:
        sh("mount", f"{device}p4", str(store))
        try:
            saved = oscar("save", "--disk", device, "--store", str(store), "--name", "pc07",
                          "--yes")
            assert saved.returncode == 0, saved.stderr
        finally:
            sh("umount", str(store))
        original = snapshot_partition(f"{device}p2", "ext4")
        sh("dd", "if=/dev/urandom", f"of={device}p2", "bs=1M", "count=4", "seek=1",
           "conv=notrunc")  # the damage
    finally:
        labmod.detach_device(device)

    vm = Qemu(iso=iso, disks=[model], log=vm_log)
    try:
        vm.wait_for("OSCAR (English)", 180)
        vm.send(DOWN, pause=1)  # restaure
        vm.send("\r")
        # restaure runs on the PC's screen (tty1), every time; the serial line shows a copy of
        # that screen: its countdown, its progress and its end.
        vm.wait_for("Copie de l'écran de ce PC", BOOT_TIMEOUT)
        vm.wait_for("La restauration commence dans", 120)
        shot = vm_log.parent / "restaure-screen.ppm"
        assert vm.screendump(shot, "ppm")
        # The console font fills the screen: the menu's header bar is a 32-pixel row of
        # Terminus 32x16 on the 1280x800 framebuffer (16 with the kernel's 8x16 font).
        assert header_height(shot) >= 28, header_height(shot)
        vm.wait_for("Temps restant", 300)
        vm.wait_exit(BOOT_TIMEOUT + 1500)  # restored, then restarted by itself
        text = vm.text()
        assert "Le PC a été restauré" in text, text[-2000:]
        assert "autre écran" not in text
        assert "Failed unmounting" not in text, text[-2000:]  # a clean restart on screen
    finally:
        vm.close()

    device = labmod.attach_image(model)
    try:
        assert snapshot_partition(f"{device}p2", "ext4") == original
    finally:
        labmod.detach_device(device)


KERNEL_ARGS = "boot=live components console=ttyS0,115200n8 oscar=menu"


def test_live_system_fetched_over_http(iso: Path, vm_log: Path) -> None:
    """PXE's way: the squashfs downloaded over HTTP by the initramfs (kept in RAM)."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(OUT))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    # qemu's user network shows the host's loopback to the guest as 10.0.2.2.
    vm = Qemu(log=vm_log, network=True, memory=2560, kernel=(
        OUT / "vmlinuz", OUT / "initrd.img",
        f"{KERNEL_ARGS} ip=dhcp fetch=http://10.0.2.2:{port}/filesystem.squashfs"))
    try:
        vm.wait_for("Sauvegarder les partitions de ce PC", BOOT_TIMEOUT)
    finally:
        vm.close()
        server.shutdown()
