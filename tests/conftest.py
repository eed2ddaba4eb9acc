"""Shared fixtures: real loop devices, real filesystems, always cleaned up."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# Tests read messages in English; the French catalogue has its own test.
os.environ["OSCAR_LANG"] = "en"

from oscar import lab as labmod  # noqa: E402
from oscar.devices import partition_path  # noqa: E402
from oscar.engine.mount import mounted  # noqa: E402

LAB_SIZE = 1 << 30
LAB_DATA_MB = 40
OUT = ROOT / "bootimage/out"  # the live image's build output


def sh(*argv: str, check: bool = True, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), check=check, text=True, capture_output=True, **kw)  # type: ignore[call-overload]


def oscar(*args: str, env: dict[str, str] | None = None, timeout: int = 600,
          stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess, in English, as a technician would."""
    full_env = dict(os.environ, OSCAR_LANG="en", PYTHONPATH=str(ROOT))
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "oscar", *args], text=True, capture_output=True,
                          env=full_env, timeout=timeout, input=stdin)


def hash_device(path: str) -> str:
    digest = hashlib.blake2b()
    with open(path, "rb") as fh:
        while block := fh.read(4 << 20):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class LabDisks:
    root: Path
    model: str
    clients: list[str]
    store: Path  # the model's OSCAR partition, mounted

    def part(self, disk: str, number: int) -> str:
        return partition_path(disk, number)


@contextlib.contextmanager
def make_lab(root: Path, *, gpt: bool, clients: int = 2, client_size: int | None = None,
             data_mb: int = LAB_DATA_MB) -> Iterator[LabDisks]:
    labmod.create(root, clients=clients, gpt=gpt, size=LAB_SIZE, client_size=client_size,
                  data_mb=data_mb)
    store = Path(tempfile.mkdtemp(prefix="oscar-store-"))
    state = labmod.attach(root)
    mounted_store = False
    try:
        assert state.model
        sh("mount", partition_path(state.model, 4), str(store))
        mounted_store = True
        yield LabDisks(root, state.model, state.clients, store)
    finally:
        if mounted_store:
            release_mount(store)
        store.rmdir()
        devices = [state.model or "", *state.clients]
        _umount_leftovers(devices)
        _stop_device_users(devices)
        labmod.destroy(root)


def _users_gone(argv: list[str]) -> None:
    """Processes a test started (a TUI in tmux, a tool of a cancelled save) may outlive it and
    keep a filesystem or a loop device busy: name them in the log, stop them, wait for them."""
    found = sh("fuser", "-v", *argv, check=False)
    if found.returncode != 0:
        return
    users = "\n".join(line for line in found.stderr.splitlines() if not line.startswith("Cannot stat"))
    print(f"teardown: still in use ({' '.join(argv)}):\n{users}", file=sys.stderr)
    sh("fuser", "-k", "-TERM", *argv, check=False)
    for _try in range(40):
        if sh("fuser", *argv, check=False).returncode != 0:
            return
        time.sleep(0.25)
    sh("fuser", "-k", "-KILL", *argv, check=False)
    time.sleep(0.5)


def release_mount(point: Path) -> None:
    if sh("umount", str(point), check=False).returncode == 0 or not os.path.ismount(point):
        return
    # only on a mount point: `fuser -m` on a plain folder means its whole filesystem (/)
    _users_gone(["-m", str(point)])
    if sh("umount", str(point), check=False).returncode != 0:
        sh("umount", "-l", str(point), check=False)


def _stop_device_users(devices: list[str]) -> None:
    for device in filter(None, devices):
        nodes = [device, *(str(p) for p in sorted(Path("/dev").glob(Path(device).name + "p*")))]
        _users_gone(nodes)


def _umount_leftovers(devices: list[str]) -> None:
    """fsarchiver killed mid-save leaves its own mounts under /tmp/fsa; never leave them. Only
    this lab's: another test run may be using fsarchiver on its own disks right now."""
    prefixes = tuple(f"{d}p" for d in devices if d)
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        point, source = fields[4], fields[fields.index("-") + 2]
        if source.startswith(prefixes) and (point.startswith("/tmp/fsa/") or "oscar-mnt-" in point):
            release_mount(Path(point))


@pytest.fixture(scope="module")
def mbr_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabDisks]:
    with make_lab(tmp_path_factory.mktemp("mbr-lab"), gpt=False) as disks:
        yield disks


@pytest.fixture(scope="module")
def gpt_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabDisks]:
    with make_lab(tmp_path_factory.mktemp("gpt-lab"), gpt=True) as disks:
        yield disks


@pytest.fixture
def blank_disk(tmp_path: Path) -> Iterator[object]:
    """A factory of blank loop disks of a given size, detached after the test."""
    attached: list[str] = []

    def make(size: int = LAB_SIZE, name: str = "blank") -> str:
        image = tmp_path / f"{name}-{len(attached)}.img"
        with image.open("wb") as fh:
            fh.truncate(size)
        device = labmod.attach_image(image)
        attached.append(device)
        return device

    yield make
    for device in attached:
        with contextlib.suppress(Exception):
            labmod.detach_device(device)


SECOND = 1_000_000_000


def snapshot_partition(device: str, fstype: str) -> dict[str, tuple[object, ...]]:
    with mounted(device, fstype, readonly=True) as point:
        return labmod.snapshot(point)


@contextlib.contextmanager
def hibernated_windows(device: str, tmp: Path) -> Iterator[None]:
    """The NTFS partition as Windows' fast startup leaves it (a hiberfil.sys with its
    signature) for the duration of the block; back to a clean volume afterwards."""
    with mounted(device, "ntfs") as win:
        (win / "hiberfil.sys").write_bytes(b"HIBR" + b"\0" * 8188)
    try:
        yield
    finally:
        point = Path(tempfile.mkdtemp(prefix="oscar-unhibernate-", dir=tmp))
        sh("ntfs-3g", "-o", "remove_hiberfile", device, str(point))
        (point / "hiberfil.sys").unlink(missing_ok=True)
        sh("umount", str(point))
        point.rmdir()


def fs_clean(device: str, fstype: str) -> None:
    if fstype == "ntfs":
        result = sh("ntfsfix", "-n", device, check=False)
    else:
        result = sh("e2fsck", "-fn", device, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="session")
def iso() -> Path:
    """A test build of the live image (zstd -3 squashfs), once per run; the Debian base comes
    from the build cache when present."""
    result = subprocess.run([sys.executable, str(ROOT / "bootimage/build.py"), "--fast"],
                            capture_output=True, text=True, timeout=3600)
    assert result.returncode == 0, result.stderr[-5000:]
    image = OUT / "oscar.iso"
    assert image.stat().st_size < 400_000_000
    manifest = (OUT / "packages.manifest").read_text()
    for package in ("fsarchiver", "partclone", "ntfs-3g", "python3-urwid", "udpcast",
                    "grub-efi-amd64-bin", "grub-pc-bin", "mtools", "live-boot",
                    "linux-image-amd64"):
        assert f"\n{package} " in manifest, package
    return image
