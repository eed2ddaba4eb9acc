"""A restored or deployed PC starts (issue 18), judged by the PC starting in qemu:

- a BIOS PC whose MBR code (syslinux's mbr.bin, which starts the *active* partition, as
  Windows' own MBR does) starts syslinux from its second partition, a FAT one;
- a UEFI PC whose firmware starts \\EFI\\BOOT\\BOOTX64.EFI (a GRUB image) from its ESP.

Each is saved, wiped, restored with its table onto itself and onto a disk 1.5 times bigger
(the partitions move), and deployed with formate to a client of each size over the network
bed; every one of these disks is then started, and must print its marker on the serial line.
These systems boot in seconds under TCG: many checks for little time."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from oscar.ops import lab as labmod
from tests.conftest import oscar, sh
from tests.netbed import netbed
from tests.vm import Qemu

pytestmark = pytest.mark.vm
SIZE = 256 << 20
BIOS_MARKER = "Loading oscar-bios-active-partition-booted"
UEFI_MARKER = "oscar-uefi-esp-booted"
ESP = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
LINUX = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"


def mtools(*argv: str) -> None:
    # mtools on a partition device: no geometry to check (a loop partition answers none)
    sh(*argv, env={**os.environ, "MTOOLS_SKIP_CHECK": "1"})


@contextlib.contextmanager
def attached(image: Path) -> Iterator[str]:
    device = labmod.attach_image(image)
    try:
        yield device
    finally:
        labmod.detach_device(device)


def blank(image: Path, size: int = SIZE) -> Path:
    image.unlink(missing_ok=True)
    with image.open("wb") as fh:
        fh.truncate(size)
    return image


def make_bios_pc(image: Path, work: Path) -> None:
    """MBR: data (ext4), then the active FAT partition with syslinux, then more data. The MBR
    code starts whichever partition is active: the flag is what makes this PC start."""
    blank(image)
    with attached(image) as device:
        sh("sfdisk", "--quiet", device, input="label: dos\n\nsize=40MiB, type=83\n"
                                               "size=64MiB, type=e, bootable\nsize=60MiB, type=83\n")
        sh("partx", "-u", device, check=False)
        sh("partx", "-a", device, check=False)
        first, boot, third = (labmod.partition_path(device, n) for n in (1, 2, 3))
        sh("mkfs.ext4", "-q", "-L", "data", first)
        sh("mkfs.ext4", "-q", "-L", "more", third)
        sh("mkfs.vfat", "-n", "SYSLINUX", boot)
        # syslinux names the "kernel" it loads on the serial line: that name is the marker
        config = work / "syslinux.cfg"
        config.write_text("SERIAL 0 115200\nPROMPT 0\n"
                          f"DEFAULT {BIOS_MARKER.split()[-1]}\n")
        mtools("mcopy", "-o", "-i", boot, str(config), "::/syslinux.cfg")
        sh("syslinux", "--install", boot)
        with open("/usr/lib/syslinux/mbr/mbr.bin", "rb") as src:
            code = src.read(440)
        with open(device, "r+b") as fh:
            fh.write(code)


def make_uefi_pc(image: Path, work: Path) -> None:
    """GPT: the ESP with the firmware's fallback loader, then data."""
    blank(image)
    config = work / "grub-embedded.cfg"
    config.write_text("serial --unit=0 --speed=115200\nterminal_output serial console\n"
                      f"echo {UEFI_MARKER}\nsleep 1\nhalt\n")
    loader = work / "BOOTX64.EFI"
    sh("grub-mkstandalone", "-O", "x86_64-efi", "-o", str(loader),
       "--modules=serial echo halt sleep", "--locales=", "--themes=", "--fonts=",
       f"boot/grub/grub.cfg={config}")
    with attached(image) as device:
        sh("sfdisk", "--quiet", device, input=f'label: gpt\n\nsize=64MiB, type={ESP}, '
                                               f'name="EFI system partition"\n'
                                               f'size=100MiB, type={LINUX}, name="data"\n')
        sh("partx", "-u", device, check=False)
        sh("partx", "-a", device, check=False)
        esp, data = (labmod.partition_path(device, n) for n in (1, 2))
        sh("mkfs.vfat", "-F", "32", "-n", "ESP", esp)
        mtools("mmd", "-i", esp, "::/EFI", "::/EFI/BOOT")
        mtools("mcopy", "-i", esp, str(loader), "::/EFI/BOOT/BOOTX64.EFI")
        sh("mkfs.ext4", "-q", "-L", "data", data)


def starts(image: Path, *, uefi: bool, log: Path, timeout: float = 180) -> None:
    """The PC of this disk starts: its marker comes on the serial line (a few seconds; the
    timeout is for a loaded machine)."""
    vm = Qemu(disks=[image], uefi=uefi, memory=256, log=log)
    try:
        vm.wait_for(UEFI_MARKER if uefi else BIOS_MARKER, timeout=timeout)
    finally:
        vm.close()


def deploy_formate(store: Path, clients: list[Path], tmp: Path) -> None:
    """The backup deployed by multicast with formate onto blank client disks, in the bed."""
    devices = [labmod.attach_image(c) for c in clients]
    try:
        with netbed(len(clients)) as bed:
            server_log = tmp / "server.log"
            send = bed.oscar(0, "deploy", "send", "--procedure", "formate", "--store", str(store),
                             "--name", "starts", "--mode", "multicast", "--clients",
                             str(len(clients)), "--max-wait", "120", "--interface", "eth0",
                             "--yes", log=server_log)
            end = time.monotonic() + 120
            while not (server_log.exists() and
                       "start the clients now" in server_log.read_text()):
                assert send.poll() is None and time.monotonic() < end, "server did not start"
                time.sleep(0.2)
            receivers = [bed.oscar(i + 1, "deploy", "receive", "--interface", "eth0", "--disk",
                                   device, "--listen", "60", log=tmp / f"client{i + 1}.log")
                         for i, device in enumerate(devices)]
            for proc in receivers:
                proc.wait(timeout=600)
            code = send.wait(timeout=600)
            logs = [server_log.read_text(), *((tmp / f"client{i + 1}.log").read_text()
                                             for i in range(len(devices)))]
            assert code == 0, "\n".join(logs)
    finally:
        for device in devices:
            labmod.detach_device(device)


@pytest.mark.parametrize("uefi", [False, True], ids=["bios-active-partition", "uefi-esp"])
def test_a_restored_or_deployed_pc_starts(tmp_path: Path, uefi: bool) -> None:
    pc = tmp_path / "pc.img"
    (make_uefi_pc if uefi else make_bios_pc)(pc, tmp_path)
    starts(pc, uefi=uefi, log=tmp_path / "serial-model.log")  # the model starts as made
    store = tmp_path / "store"
    store.mkdir()
    with attached(pc) as device:
        saved = oscar("save", "--disk", device, "--store", str(store), "--name", "starts",
                      "--yes")
        assert saved.returncode == 0, saved.stderr
        sh("dd", "if=/dev/zero", f"of={device}", "bs=1M", "count=2", "conv=fsync",
           "status=none")  # the table, the boot code and the first partition's start: gone
    with pytest.raises(AssertionError):  # wiped, it no longer starts
        starts(pc, uefi=uefi, log=tmp_path / "serial-wiped.log", timeout=40)
    bigger = blank(tmp_path / "bigger.img", SIZE * 3 // 2)
    for target in (pc, bigger):
        with attached(target) as device:
            result = oscar("restore", "--disk", device, "--store", str(store), "--name",
                           "starts", "--with-table", "--yes")
            assert result.returncode == 0, result.stderr
    starts(pc, uefi=uefi, log=tmp_path / "serial-restored.log")
    starts(bigger, uefi=uefi, log=tmp_path / "serial-bigger.log")
    clients = [blank(tmp_path / "client-same.img"), blank(tmp_path / "client-big.img",
                                                          SIZE * 3 // 2)]
    deploy_formate(store, clients, tmp_path)
    for client in clients:
        starts(client, uefi=uefi, log=tmp_path / f"serial-{client.stem}.log")


def test_the_marker_is_not_printed_without_the_active_flag(tmp_path: Path) -> None:
    """The test's own check: with no active partition the same disk does not start (the
    marker proves the flag, not just the files)."""
    pc = tmp_path / "pc.img"
    make_bios_pc(pc, tmp_path)
    subprocess.run(["sfdisk", "--quiet", "--activate", str(pc), "-"], check=True,
                   capture_output=True)
    with pytest.raises(AssertionError):
        starts(pc, uefi=False, log=tmp_path / "serial.log", timeout=30)
