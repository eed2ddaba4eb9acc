"""Shared fixtures: real loop devices, real filesystems, always cleaned up."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
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

from oscar.disks.devices import partition_path  # noqa: E402
from oscar.engine.mount import mounted  # noqa: E402
from oscar.ops import lab as labmod  # noqa: E402

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


def flip_a_byte(image: Path) -> None:
    """One bit of damage in the middle of an image, its size unchanged."""
    with image.open("r+b") as fh:
        fh.seek(image.stat().st_size // 2)
        byte = fh.read(1)
        fh.seek(-1, 1)
        fh.write(bytes([byte[0] ^ 1]))


def copy_backup(store: Path, source: str, name: str) -> Path:
    """A copy of backup ``source`` as ``name`` in the same store, to damage in a test."""
    target = store / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(store / source, target)
    return target


def reseal(folder: Path) -> None:
    """Recompute B2SUMS over the changed files, so that only OSCAR's deeper checks (its own
    reading of headers and manifests) can catch the damage."""
    sh("sh", "-c", "b2sum $(ls | grep -v '^B2SUMS$') > B2SUMS", cwd=str(folder))


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
        devices = [state.model or "", *state.clients]
        try:
            if mounted_store:
                release_mount(store)
            _umount_leftovers(devices)
            _stop_device_users(devices)
        finally:
            with contextlib.suppress(OSError):
                store.rmdir()
            labmod.destroy(root)


class LeakedByTests(AssertionError):
    """The test process itself holds what a teardown must release: a bug in a test or in
    in-process OSCAR code, never to be "fixed" by signalling ourselves."""


def _own_holdings(argv: list[str]) -> list[str]:
    names = {a for a in argv if not a.startswith("-")}
    devices = {os.stat(n).st_rdev for n in names if Path(n).is_block_device()}
    held = []
    for fd in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target in names or any(target.startswith(f"{n}/") for n in names) or (
                    Path(target).is_block_device() and os.stat(target).st_rdev in devices):
                held.append(f"fd {fd.name} -> {target}")
    return held


def _users(argv: list[str]) -> set[int]:
    # fuser prints the PIDs on stdout (access letters and names go to stderr)
    found = sh("fuser", *argv, check=False).stdout.split()
    return {int("".join(ch for ch in tok if ch.isdigit())) for tok in found if tok[:1].isdigit()}


def _ancestors() -> set[int]:
    pids, pid = {1}, os.getpid()
    while pid > 1:
        pids.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def _users_gone(argv: list[str]) -> None:
    """Processes a test started (a TUI in tmux, a tool of a cancelled save) may outlive it and
    keep a filesystem or a loop device busy: name them in the log, stop them, wait for them.
    Never this process or its parents: `fuser -k` would kill pytest, and the CI with it."""
    spared = _ancestors()
    for _try in range(20):  # a thread of this process may be closing the device right now
        if os.getpid() not in _users(argv):
            break
        time.sleep(0.25)
    else:
        leak = _own_holdings(argv) or ["a mapping or its working directory"]
        _stop(argv, spared)
        raise LeakedByTests(f"the test process itself holds {' '.join(argv)}: {leak}")
    _stop(argv, spared)


def _stop(argv: list[str], spared: set[int]) -> None:
    users = _users(argv) - spared
    if not users:
        return
    table = sh("fuser", "-v", *argv, check=False).stderr
    listing = "\n".join(line for line in table.splitlines() if not line.startswith("Cannot stat"))
    print(f"teardown: still in use ({' '.join(argv)}):\n{listing}", file=sys.stderr)
    for signum in (signal.SIGTERM, signal.SIGKILL):
        for pid in users:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)
        for _try in range(40):
            users = _users(argv) - spared
            if not users:
                return
            time.sleep(0.25)


def release_mount(point: Path) -> None:
    if sh("umount", str(point), check=False).returncode == 0 or not os.path.ismount(point):
        return
    # only on a mount point: `fuser -m` on a plain folder means its whole filesystem (/)
    try:
        _users_gone(["-m", str(point)])
    finally:
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
                    "linux-image-amd64", "shim-signed", "grub-efi-amd64-signed", "mokutil",
                    "firmware-realtek", "firmware-bnx2", "firmware-bnx2x",
                    "firmware-misc-nonfree", "gparted", "xserver-xorg-core", "xinit"):
        assert f"\n{package} " in manifest, package
    return image
