"""BitLocker volumes made by Windows (../shared/data/bitlocker): detected, saved with each kind
of key (never leaked), refused without one, copied raw on request, restored file for file."""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from oscar.backups import manifest as manifests
from oscar.core import config, i18n
from oscar.engine.mount import mounted
from oscar.ui.tui import widgets
from oscar.ui.tui.app import App
from oscar.ui.tui.flows.restaure import RestaureFlow
from oscar.ui.tui.main import build
from tests.conftest import LabDisks, hash_device, make_lab, oscar, sh
from tests.test_storage_tui import choose, set_name

pytestmark = pytest.mark.storage

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "bitlocker"
VOLUME = "bitlk-aes-xts-128"
VOLUME_BYTES = 100 << 20


@pytest.fixture(scope="module")
def volumes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (DATA / "bitlocker-ntfs.tar.xz").exists():
        pytest.skip(f"{DATA} is missing")
    root = tmp_path_factory.mktemp("bitlocker")
    for name in ("bitlocker-ntfs.tar.xz", "bitlocker-volumes.tar.xz"):
        sh("tar", "-xf", str(DATA / name), "-C", str(root))
    return root


@pytest.fixture(scope="module")
def keys(volumes: Path) -> configparser.SectionProxy:
    conf = configparser.ConfigParser()
    conf.read(volumes / "bitlk-ntfs" / "images.conf")
    return conf[VOLUME]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, volumes: Path) -> Iterator[LabDisks]:
    """A UEFI lab PC whose Windows partition is a BitLocker volume Windows made."""
    with make_lab(tmp_path_factory.mktemp("bitlocker-lab"), gpt=True, clients=1) as disks:
        sh("dd", f"if={volumes / 'bitlk-ntfs' / (VOLUME + '.img')}",
           f"of={disks.part(disks.model, 1)}", "bs=1M", "conv=notrunc,fsync")
        sh("udevadm", "settle", check=False)
        yield disks


def save(lab: LabDisks, name: str, *args: str, stdin: str | None = None) -> object:
    return oscar("save", "--disk", lab.model, "--store", str(lab.store), "--name", name,
                 "--parts", "1", "--yes", *args, stdin=stdin)


def files_of(volume_root: Path) -> dict[str, str]:
    found = {}
    for path in volume_root.rglob("*"):
        if path.is_file() and "System Volume Information" not in path.parts:
            found["./" + path.relative_to(volume_root).as_posix()] = hashlib.sha256(
                path.read_bytes()).hexdigest()
    return found


def expected_files(volumes: Path) -> dict[str, str]:
    listing = (volumes / "bitlk-ntfs" / f"{VOLUME}.files.sha256").read_text("utf-8")
    return {line[66:]: line[:64] for line in listing.splitlines() if line}


def test_probe_names_bitlocker_its_keys_and_recovery_id(lab: LabDisks,
                                                        keys: configparser.SectionProxy) -> None:
    shown = oscar("probe")
    assert shown.returncode == 0, shown.stderr
    line = next(x for x in shown.stdout.splitlines() if lab.part(lab.model, 1) + " " in x)
    assert "BitLocker" in line and "104.9 MB" not in line  # the partition's size, not BitLocker's
    recovery_id = keys["RP_VMK_GUID"][:8].upper()
    assert f"BitLocker AES-XTS-128, encrypted, keys: password, recovery-password, recovery key " \
           f"ID {recovery_id}" in shown.stdout
    data = json.loads(oscar("probe", "--json").stdout)
    part = next(d for d in data if d["path"] == lab.model)["partitions"][0]
    assert part["fstype"] == "BitLocker"
    assert part["bitlocker"]["recovery_ids"] == [keys["RP_VMK_GUID"].upper()]
    assert part["bitlocker"]["size"] == VOLUME_BYTES


def test_no_key_is_refused_with_both_ways_out(lab: LabDisks) -> None:
    result = save(lab, "bl-nokey")
    assert result.returncode == 2
    assert "encrypted with BitLocker" in result.stderr and "cannot be compressed" in result.stderr
    assert "--bitlocker-key-file" in result.stderr and "--method raw" in result.stderr
    assert not (lab.store / "bl-nokey").exists()


def test_wrong_key_says_so_and_saves_nothing(lab: LabDisks) -> None:
    result = save(lab, "bl-wrong", "--bitlocker-key-stdin", stdin="not-the-password\n")
    assert result.returncode == 2, result.stderr
    assert "does not open" in result.stderr and "Traceback" not in result.stderr
    assert not (lab.store / "bl-wrong").exists()
    typo = save(lab, "bl-typo", "--bitlocker-key-stdin",
                stdin="235818-357951-253979-013365-241120-245575-342914-591911\n")
    assert typo.returncode == 2 and "group 8 (591911)" in typo.stderr
    assert not (lab.store / "bl-typo").exists()


class CmdlineWatch(threading.Thread):
    """Reads every process's command line while a save runs: a key there would be seen."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__(daemon=True)
        self.secrets = [s.encode() for s in secrets]
        self.seen: list[bytes] = []
        self.dislocker_seen = False
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    text = cmdline.read_bytes()
                except OSError:
                    continue
                self.dislocker_seen |= b"dislocker" in text
                if any(secret in text for secret in self.secrets) and b"pytest" not in text:
                    self.seen.append(text)


@pytest.mark.parametrize("how", ["password-stdin", "recovery-stdin", "recovery-file", "list-file"])
def test_save_with_a_key_is_decrypted_ntfs_and_leaks_no_key(
        lab: LabDisks, keys: configparser.SectionProxy, tmp_path: Path, how: str) -> None:
    password, recovery = keys["PW"], keys["RP"]
    args, stdin = ["--bitlocker-key-stdin"], None
    if how == "password-stdin":
        stdin = password + "\n"
    elif how == "recovery-stdin":
        stdin = recovery.replace("-", "") + "\n"  # typed without dashes
    else:
        key_file = tmp_path / "BitLocker Recovery Key.TXT"
        other = "700854-045012-282117-436216-111815-123827-574783-023991"
        text = ("BitLocker Drive Encryption recovery key\r\n\r\nTo verify that this is the "
                f"correct recovery key, compare the start of the following identifier.\r\n\r\n"
                f"Identifier:\r\n\r\n\t{keys['RP_VMK_GUID'].upper()}\r\n\r\nRecovery Key:\r\n"
                f"\r\n\t{recovery}\r\n")
        if how == "list-file":  # every PC's key, this one's last: found by its identifier
            text = (f"ComputerName,KeyId,RecoveryKey\r\nPC-01,{'0' * 8}-1111-2222-3333-"
                    f"444444444444,{other}\r\nPC-02,{keys['RP_VMK_GUID']},{recovery}\r\n")
        key_file.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
        args = ["--bitlocker-key-file", str(key_file)]
    watch = CmdlineWatch([password, recovery, recovery.replace("-", "")])
    watch.start()
    try:
        result = save(lab, f"bl-{how}", *args, stdin=stdin)
    finally:
        watch.done.set()
        watch.join()
    assert result.returncode == 0, result.stderr
    assert watch.dislocker_seen and watch.seen == []
    assert "saved decrypted" in result.stdout
    folder = lab.store / f"bl-{how}"
    entry = manifests.load(folder).part(1)
    assert entry is not None
    assert (entry.fstype, entry.method, entry.bitlocker) == ("ntfs", "ntfsclone", "decrypted")
    assert entry.stored < VOLUME_BYTES // 2  # used blocks, compressed
    for path in [*folder.iterdir(), *Path("/run/oscar").rglob("*.log")]:
        if path.is_file():
            content = path.read_bytes()
            for secret in (password, recovery, recovery.replace("-", "")):
                assert secret.encode() not in content, path
    assert not [m for m in Path("/proc/mounts").read_text().splitlines() if "dislocker" in m]


def test_save_through_the_menu_asks_for_the_key(
        lab: LabDisks, keys: configparser.SectionProxy, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OSCAR_LANG", "fr")
    monkeypatch.setenv("OSCAR_LOCK_DIR", str(tmp_path / "locks"))
    i18n.reset()
    try:
        app = App(headless=True)
        build(app, restaure=False, store=str(lab.store))
        app.press("s")
        app.press("enter")
        choose(app, Path(lab.model).name)
        assert "[X] 1  BitLocker" in app.screen_text()
        choose(app, "Continuer")
        text = app.screen_text()
        assert "chiffrée avec BitLocker" in text and keys["RP_VMK_GUID"][:8].upper() in text
        set_name(app, keys["RP"])
        assert keys["RP"] not in app.screen_text()  # masked
        choose(app, "Continuer")
        set_name(app, "bl-menu")
        choose(app, "Continuer")
        text = app.screen_text()
        assert "Lancer la sauvegarde ?" in text and "BitLocker" in text, text
        choose(app, "Confirmer")
        app.wait_task()
        assert "Sauvegarde complète et vérifiée" in app.screen_text()
    finally:
        i18n.reset()
    entry = manifests.load(lab.store / "bl-menu").part(1)
    assert entry is not None and entry.bitlocker == "decrypted"


def test_restore_of_the_decrypted_backup_gives_every_file_back(
        lab: LabDisks, volumes: Path, keys: configparser.SectionProxy) -> None:
    folder = lab.store / "bl-password-stdin"
    if not folder.exists():
        assert save(lab, "bl-password-stdin", "--bitlocker-key-stdin",
                    stdin=keys["PW"] + "\n").returncode == 0
    client = lab.clients[0]
    sh("wipefs", "-a", client)
    sh("dd", "if=/dev/zero", f"of={client}", "bs=1M", "count=8", "conv=fsync")
    plan = oscar("restore", "--disk", client, "--store", str(lab.store), "--name",
                 "bl-password-stdin", "--with-table", "--dry-run")
    assert plan.returncode == 0, plan.stderr
    assert "comes back unencrypted" in plan.stdout and "Windows will encrypt it again" in plan.stdout
    done = oscar("restore", "--disk", client, "--store", str(lab.store), "--name",
                 "bl-password-stdin", "--with-table", "--yes")
    assert done.returncode == 0, done.stderr
    device = lab.part(client, 1)
    assert sh("blkid", "-o", "value", "-s", "TYPE", device).stdout.strip() == "ntfs"
    with mounted(device, "ntfs", readonly=True) as root:
        assert files_of(root) == expected_files(volumes)
    log = (folder / "oscar-save.log").read_text()
    assert keys["PW"] not in log


def test_raw_copy_restores_sector_for_sector_and_is_never_deployed(
        lab: LabDisks, tmp_path: Path) -> None:
    plan = save(lab, "bl-raw", "--method", "raw", "--dry-run")
    assert plan.returncode == 0, plan.stderr
    assert "copied encrypted" in plan.stdout and "this PC only" in plan.stdout
    result = save(lab, "bl-raw", "--method", "raw")
    assert result.returncode == 0, result.stderr
    entry = manifests.load(lab.store / "bl-raw").part(1)
    assert entry is not None and (entry.method, entry.bitlocker) == ("raw", "encrypted")
    client = lab.clients[0]
    sh("dd", "if=/dev/zero", f"of={lab.part(client, 1)}", "bs=1M", "count=4", "conv=fsync")
    done = oscar("restore", "--disk", client, "--store", str(lab.store), "--name", "bl-raw",
                 "--with-table", "--yes")
    assert done.returncode == 0, done.stderr
    assert "comes back encrypted" in done.stdout
    assert hash_device(lab.part(client, 1)) == hash_device(lab.part(lab.model, 1))
    deploy = oscar("deploy", "send", "--procedure", "restaure", "--store", str(lab.store),
                   "--name", "bl-raw", "--clients", "1", "--max-wait", "1", "--yes", timeout=60)
    assert deploy.returncode == 5 and "BitLocker" in deploy.stderr, deploy.stdout + deploy.stderr
    assert "TPM" in deploy.stderr


def esp_file(esp: str, path: str) -> bytes:
    return subprocess.run(["mtype", "-i", esp, "::" + path], capture_output=True, check=True,
                          env=dict(os.environ, MTOOLS_SKIP_CHECK="1")).stdout


def test_install_on_a_bitlocker_pc_leaves_windows_own_start_alone(
        lab: LabDisks, tmp_path: Path) -> None:
    live = tmp_path / "live"
    live.mkdir()
    for name, size in (("vmlinuz", 300_000), ("initrd.img", 500_000),
                       ("filesystem.squashfs", 1_000_000)):
        (live / name).write_bytes(os.urandom(size))
    esp = lab.part(lab.model, 5)
    fallback = esp_file(esp, "/EFI/BOOT/BOOTX64.EFI")
    with open(lab.model, "rb") as fh:
        mbr = fh.read(440)
    result = oscar("install", "--disk", lab.model, "--image", str(live), "--yes",
                   "--timeout", "5", "--no-password")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Windows Boot Manager stays the firmware's first entry" in result.stdout
    assert "F12" in result.stdout and "Use a device" in result.stdout
    assert esp_file(esp, "/EFI/BOOT/BOOTX64.EFI") == fallback
    assert esp_file(esp, "/EFI/oscar/shimx64.efi")
    with open(lab.model, "rb") as fh:
        assert fh.read(440) == mbr
    menu = (lab.store / "boot/grub/grub.cfg").read_text()
    windows = menu.split("--id windows-", 1)[1].split("\n}", 1)[0]
    assert "reboot" in windows and "chainloader" not in windows
    assert sh("grub-script-check", str(lab.store / "boot/grub/grub.cfg"), check=False
              ).returncode == 0


def test_restaure_from_the_menu_brings_the_decrypted_backup_back(
        lab: LabDisks, tmp_path: Path, volumes: Path, keys: configparser.SectionProxy,
        monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    monkeypatch.setenv("OSCAR_LANG", "fr")
    monkeypatch.setenv("OSCAR_LOCK_DIR", str(tmp_path / "locks"))
    i18n.reset()
    request.addfinalizer(i18n.reset)
    assert save(lab, "bl-zz-restaure", "--bitlocker-key-stdin",
                stdin=keys["PW"] + "\n").returncode == 0
    os.utime(lab.store / "bl-zz-restaure")
    marker = tmp_path / "rebooted"
    # The PC's boot menu names its OSCAR partition on the kernel line (the client restored
    # with --with-table has one too: never guessed).
    store_device = sh("findmnt", "-n", "-o", "SOURCE", str(lab.store)).stdout.strip()
    oscar_uuid = sh("blkid", "-o", "value", "-s", "UUID", store_device).stdout.strip()
    cmdline = tmp_path / "cmdline"
    cmdline.write_text(f"boot=live live-media=/dev/disk/by-uuid/{oscar_uuid} oscar=restaure\n")
    monkeypatch.setenv("OSCAR_CMDLINE", str(cmdline))
    app = App(config.Config(reboot_command=["touch", str(marker)], restaure_countdown=1),
              headless=True)
    flow = build(app, restaure=True, store=None)
    assert isinstance(flow, RestaureFlow)
    flow.tick()
    flow.tick()
    assert isinstance(app.current.widget, widgets.ProgressView)
    app.wait_task()
    assert "Le PC a été restauré" in app.screen_text()
    device = lab.part(lab.model, 1)
    assert sh("blkid", "-o", "value", "-s", "TYPE", device).stdout.strip() == "ntfs"
    with mounted(device, "ntfs", readonly=True) as root:
        assert files_of(root) == expected_files(volumes)
