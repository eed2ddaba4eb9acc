"""`oscar install` and `oscar grub --repair` on the lab's model PC (loop devices, real GRUB,
real mtools): what is written, what is kept byte for byte, and every refusal.

The live system copied here is a stand-in folder (three small files): these tests check the
installation; booting it is the vm tier's job (tests/test_vm_boot_menu.py)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import pytest

from oscar.disks.devices import partition_path
from oscar.engine.mount import mounted
from tests.conftest import LabDisks, hash_device, make_lab, oscar, sh

pytestmark = pytest.mark.storage
PASSWORD = "ecole42"
MIB = 1 << 20


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("live")
    for name, size in (("vmlinuz", 300_000), ("initrd.img", 500_000),
                       ("filesystem.squashfs", 3_000_000)):
        (folder / name).write_bytes(os.urandom(size))
    return folder


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("config")
    values = {"OSCAR_CONFIG": str(folder / "oscar.yaml"), "HOME": str(folder)}
    result = oscar("password", "--stdin", env=values, stdin=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    return values


def first_mib(device: str) -> bytes:
    with open(device, "rb") as fh:
        return fh.read(MIB)


def mtype(device: str, path: str) -> bytes:
    return subprocess.run(["mtype", "-i", device, "::" + path], capture_output=True, check=True,
                          env=dict(os.environ, MTOOLS_SKIP_CHECK="1")).stdout


def files_containing(root: Path, needle: bytes) -> list[str]:
    found = []
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            path = Path(dirpath) / name
            if path.is_file() and needle in path.read_bytes():
                found.append(str(path))
    return found


def install(lab: LabDisks, live: Path, env: dict[str, str], *extra: str,
            disk: str | None = None) -> str:
    result = oscar("install", "--disk", disk or lab.model, "--image", str(live), "--yes",
                   "--timeout", "20", *extra, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def mbr(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> Iterator[LabDisks]:
    with make_lab(tmp_path_factory.mktemp("boot-mbr"), gpt=False, clients=0) as lab:
        saved = oscar("save", "--disk", lab.model, "--store", str(lab.store), "--name", "pc01",
                      "--yes", env=env)
        assert saved.returncode == 0, saved.stderr
        yield lab


def test_install_on_an_mbr_disk(mbr: LabDisks, live: Path, env: dict[str, str]) -> None:
    lab = mbr
    # A partition type Windows would give a drive letter to: install must hide it.
    sh("sfdisk", "--no-reread", "--no-tell-kernel", "--quiet", "--part-type", lab.model, "4", "7")
    before = first_mib(lab.model)
    table = sh("sfdisk", "-d", lab.model).stdout
    systems = {n: hash_device(partition_path(lab.model, n)) for n in (1, 2)}

    out = install(lab, live, env)

    assert "Windows 10 Education | Debian GNU/Linux 12 (bookworm) | OSCAR | restaure" in out
    after = first_mib(lab.model)
    assert b"GRUB" in after[:440] and after[:440] != before[:440]  # GRUB's boot code
    # Disk signature and partition table kept, but partition 4's type (entry 4, byte 4).
    hidden = bytearray(before[440:512])
    hidden[446 + 3 * 16 + 4 - 440] = 0x83
    assert after[440:512] == bytes(hidden)
    assert after[512:64 * 1024].strip(b"\0")  # core.img before the first partition
    expected = [line.replace("type=7", "type=83") if line.startswith(partition_path(lab.model, 4))
                else line for line in table.splitlines()]
    assert sh("sfdisk", "-d", lab.model).stdout.splitlines() == expected
    assert {n: hash_device(partition_path(lab.model, n)) for n in (1, 2)} == systems
    boot = lab.store / "boot"
    assert (boot / "oscar/first-mib-before-oscar.bin").read_bytes() == before
    for name in ("vmlinuz", "initrd.img", "filesystem.squashfs"):
        assert (boot / "live" / name).read_bytes() == (live / name).read_bytes()
    menu = (boot / "grub/grub.cfg").read_text()
    assert sh("grub-script-check", str(boot / "grub/grub.cfg"), check=False).returncode == 0
    assert "password_pbkdf2 oscar grub.pbkdf2.sha512.10000." in menu
    assert 'set default="windows-1"' in menu and "set timeout=20" in menu
    assert (boot / "grub/i386-pc/normal.mod").is_file()
    # The clear password is in no file of the partition, nor in OSCAR's logs.
    assert files_containing(lab.store, PASSWORD.encode()) == []
    for logs in (Path(env["HOME"]), Path("/var/log/oscar")):
        assert files_containing(logs, PASSWORD.encode()) == []
    # The backups are still there, and "boot" is not one of them.
    listed = oscar("list", str(lab.store), "--all", "--json", env=env)
    assert [entry["name"] for entry in json.loads(listed.stdout)] == ["pc01"]
    assert oscar("verify", str(lab.store / "pc01"), "--quick", env=env).returncode == 0


def test_repair_takes_the_new_password_and_pins_a_backup(mbr: LabDisks, live: Path,
                                                          env: dict[str, str]) -> None:
    lab = mbr
    menu_path = lab.store / "boot/grub/grub.cfg"
    old_menu = menu_path.read_text()
    squashfs = (lab.store / "boot/live/filesystem.squashfs").stat()
    assert oscar("password", "--stdin", env=env, stdin="nouveau-secret\n").returncode == 0

    result = oscar("grub", "--repair", "--backup", "pc01", "--yes", env=env)

    assert result.returncode == 0, result.stderr
    assert "another program" not in result.stdout  # its own boot code is not foreign
    assert "Copy the OSCAR live system" not in result.stdout  # intact: kept
    menu = menu_path.read_text()
    assert menu != old_menu and "oscar=restaure oscar.backup=pc01" in menu
    old_hash = old_menu.split("password_pbkdf2 oscar ")[1].split()[0]
    assert old_hash not in menu and "password_pbkdf2 oscar grub.pbkdf2.sha512.10000." in menu
    assert "set timeout=20" in menu  # kept from the install
    assert (lab.store / "boot/grub/grub.cfg.previous").read_text() == old_menu
    assert (lab.store / "boot/live/filesystem.squashfs").stat().st_mtime_ns == \
        squashfs.st_mtime_ns
    assert files_containing(lab.store, b"nouveau-secret") == []


def test_a_restore_writes_the_menu_again_for_the_restored_systems(mbr: LabDisks,
                                                                   env: dict[str, str]) -> None:
    """Linux was updated after the backup (a newer kernel, the menu repaired for it); restoring
    the backup brings the old kernel back, and the menu must follow or Linux would not start."""
    lab = mbr
    linux = partition_path(lab.model, 2)
    newer = "6.1.0-99-amd64"
    with mounted(linux, "ext4") as root:
        (root / f"boot/vmlinuz-{newer}").write_bytes(b"kernel")
        (root / f"boot/initrd.img-{newer}").write_bytes(b"initrd")
    assert oscar("grub", "--repair", "--yes", env=env).returncode == 0
    assert f"/boot/vmlinuz-{newer}" in (lab.store / "boot/grub/grub.cfg").read_text()

    result = oscar("restore", "--disk", lab.model, "--store", str(lab.store), "--name", "pc01",
                   "--parts", "2", "--yes", env=env)

    assert result.returncode == 0, result.stderr
    assert "Write OSCAR's boot menu again" in result.stdout
    menu = (lab.store / "boot/grub/grub.cfg").read_text()
    assert newer not in menu and "/boot/vmlinuz-6.1.0-13-amd64" in menu
    assert sh("grub-script-check", str(lab.store / "boot/grub/grub.cfg")).returncode == 0


def test_a_broken_menu_never_replaces_the_working_one(mbr: LabDisks, env: dict[str, str],
                                                      tmp_path: Path) -> None:
    lab = mbr
    menu_path = lab.store / "boot/grub/grub.cfg"
    working = menu_path.read_bytes()
    boot_code = first_mib(lab.model)
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "disk.cfg.j2").write_text(
        'set default="{{ default }}"\nmenuentry "OSCAR" --id oscar {\n  linux /vmlinuz\n')

    result = oscar("grub", "--repair", "--yes", env={**env, "OSCAR_GRUB_TEMPLATES": str(templates)})

    assert result.returncode != 0
    assert "not valid" in result.stderr and "working menu was kept" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 2  # one line, one hint
    assert menu_path.read_bytes() == working
    assert not (lab.store / "boot/grub/grub.cfg.new").exists()
    assert first_mib(lab.model) == boot_code  # checked before anything was written


def test_refusals_write_nothing(mbr: LabDisks, live: Path, env: dict[str, str],
                                tmp_path: Path, blank_disk: object) -> None:
    lab = mbr
    untouched = first_mib(lab.model)
    menu = (lab.store / "boot/grub/grub.cfg").read_bytes()
    cases = [
        (["install", "--disk", lab.model, "--image", str(live), "--default", "restaure",
          "--yes"], env, "needs the password"),
        (["install", "--disk", lab.model, "--image", str(live), "--default", "macos", "--yes"],
         env, "No boot entry 'macos'"),
        (["install", "--disk", lab.model, "--image", str(live), "--backup", "nosuch", "--yes"],
         env, "No backup named 'nosuch'"),
        (["install", "--disk", lab.model, "--image", str(live), "--timeout", "9999", "--yes"],
         env, "timeout"),
        (["install", "--disk", lab.model, "--image", str(tmp_path), "--yes"], env,
         "does not hold the OSCAR live system"),
    ]
    for argv, values, message in cases:
        result = oscar(*argv, env=values)
        assert result.returncode == 2, (argv, result.stdout, result.stderr)
        assert message in result.stderr and "hint:" in result.stderr, result.stderr
    assert first_mib(lab.model) == untouched
    assert (lab.store / "boot/grub/grub.cfg").read_bytes() == menu

    make = cast(Callable[[int, str], str], blank_disk)
    # A disk with no OSCAR partition; a GPT disk without EFI partition; a disk whose first
    # partition starts at sector 63 (no room for GRUB); a disk never installed, repaired.
    plain = make(256 * MIB, "plain")
    sh("sfdisk", "--quiet", plain, input="label: dos\n\ntype=83\n")
    sh("partx", "-a", plain, check=False)
    sh("mkfs.ext4", "-q", "-L", "DATA", partition_path(plain, 1))
    gpt = make(256 * MIB, "gpt")
    sh("sfdisk", "--quiet", gpt, input="label: gpt\n\ntype=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n")
    sh("partx", "-a", gpt, check=False)
    sh("mkfs.ext4", "-q", "-L", "OSCAR", partition_path(gpt, 1))
    old = make(256 * MIB, "xp")
    sh("sfdisk", "--quiet", old, input="label: dos\n\nstart=63, type=83\n")
    sh("partx", "-a", old, check=False)
    sh("mkfs.ext4", "-q", "-L", "OSCAR", partition_path(old, 1))
    for disk, argv, message, code in (
            (plain, ["install"], "no OSCAR partition", 5),
            (gpt, ["install"], "without an EFI system partition", 5),
            (old, ["install"], "too small for GRUB", 5),
            (old, ["grub", "--repair"], "never installed", 2)):
        before = first_mib(disk)
        result = oscar(*argv, "--disk", disk, "--image", str(live), "--yes", env=env)
        assert result.returncode == code, (disk, result.stdout, result.stderr)
        assert message in result.stderr and "hint:" in result.stderr, result.stderr
        assert first_mib(disk) == before
        assert f"{disk}p" not in Path("/proc/self/mounts").read_text()  # nothing left mounted


@pytest.fixture(scope="module")
def gpt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabDisks]:
    with make_lab(tmp_path_factory.mktemp("boot-gpt"), gpt=True, clients=0) as lab:
        yield lab


def test_install_on_a_gpt_disk_with_an_efi_partition(gpt: LabDisks, live: Path,
                                                     env: dict[str, str], tmp_path: Path) -> None:
    lab = gpt
    esp = partition_path(lab.model, 5)
    windows_manager = mtype(esp, "/EFI/Microsoft/Boot/bootmgfw.efi")
    fallback = mtype(esp, "/EFI/Boot/bootx64.efi")
    table = sh("sfdisk", "-d", lab.model).stdout
    systems = {n: hash_device(partition_path(lab.model, n)) for n in (1, 2)}
    untouched = first_mib(lab.model)
    no_password = {"OSCAR_CONFIG": str(tmp_path / "none.yaml"), "HOME": str(tmp_path)}
    refused = oscar("install", "--disk", lab.model, "--image", str(live), "--yes",
                    env=no_password)
    assert refused.returncode == 2 and "No password is set" in refused.stderr, refused.stderr
    assert first_mib(lab.model) == untouched and mtype(esp, "/EFI/Boot/bootx64.efi") == fallback

    out = install(lab, live, env)

    assert "Windows 10 Education | Debian GNU/Linux 12 (bookworm) | OSCAR | restaure" in out
    # Debian's signed chain, byte for byte: shim as the loader (the firmware entry's and the
    # fallback), the signed GRUB beside it, reading the grub.cfg that leads to the OSCAR menu.
    shim = Path("/usr/lib/shim/shimx64.efi.signed").read_bytes()
    signed_grub = Path("/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed").read_bytes()
    for folder, loader in (("/EFI/oscar", "shimx64.efi"), ("/EFI/BOOT", "BOOTX64.EFI")):
        assert mtype(esp, f"{folder}/{loader}") == shim
        assert mtype(esp, f"{folder}/grubx64.efi") == signed_grub
        assert mtype(esp, f"{folder}/mmx64.efi")[:2] == b"MZ"
        early = mtype(esp, f"{folder}/grub.cfg").decode()
        oscar_uuid = sh("blkid", "-o", "value", "-s", "UUID", partition_path(lab.model, 4)).stdout
        assert f"--fs-uuid --set=root {oscar_uuid.strip()}" in early, early
        assert "configfile $prefix/grub.cfg" in early
    assert mtype(esp, "/EFI/oscar/bootx64-before-oscar.efi") == fallback  # Windows' copy kept
    assert mtype(esp, "/EFI/Microsoft/Boot/bootmgfw.efi") == windows_manager
    assert sh("fsck.vfat", "-n", esp, check=False).returncode == 0
    # Only partition 4's attributes changed in the table: hidden, never mounted automatically.
    new_table = sh("sfdisk", "-d", lab.model).stdout
    changed = [(a, b) for a, b in zip(table.splitlines(), new_table.splitlines(), strict=True) if a != b]
    assert len(changed) == 1 and changed[0][1].endswith('name="OSCAR", attrs="GUID:62,63"')
    assert {n: hash_device(partition_path(lab.model, n)) for n in (1, 2)} == systems
    menu = (lab.store / "boot/grub/grub.cfg").read_text()
    assert "chainloader /EFI/Microsoft/Boot/bootmgfw.efi" in menu
    assert (lab.store / "boot/grub/x86_64-efi/normal.mod").is_file()
    assert not (lab.store / "boot/grub/i386-pc").exists()  # a GPT disk boots through UEFI only
    assert b"GRUB" not in first_mib(lab.model)[:440]  # no BIOS code written on a GPT disk

    # Installed twice: the fallback saved the first time (Windows') is not overwritten.
    install(lab, live, env)
    assert mtype(esp, "/EFI/oscar/bootx64-before-oscar.efi") == fallback


def test_grub_through_the_menu_asks_a_password_then_installs(
        tmp_path: Path, live: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outils → GRUB on a PC without a password yet: the password typed twice (a mismatch
    first), the plan with the systems found, then the menu."""
    from oscar.core import config, i18n
    from oscar.ops import bootinstall
    from oscar.ui.tui.app import App
    from oscar.ui.tui.main import build

    monkeypatch.setenv("OSCAR_LANG", "fr")
    monkeypatch.setenv("OSCAR_CONFIG", str(tmp_path / "oscar.yaml"))
    monkeypatch.setenv("OSCAR_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.setattr(bootinstall, "LIVE_SOURCES", (str(live),))
    i18n.reset()
    try:
        with make_lab(tmp_path / "lab", gpt=False, clients=0) as lab:
            app = App(headless=True)
            build(app, restaure=False, store=str(lab.store))
            app.press("o", "enter", "g", "enter")  # Outils > GRUB
            assert "Quel disque reçoit le menu de démarrage" in app.screen_text()
            pick_disk(app, Path(lab.model).name)  # other labs may be attached too
            assert "Nouveau mot de passe" in app.screen_text()
            type_passwords(app, "ecole42", "ecole43")
            assert "Les deux mots de passe diffèrent" in app.screen_text()
            app.press("enter")  # OK
            type_passwords(app, "ecole42", "ecole42")
            text = app.screen_text()
            assert "clavier français (AZERTY)" in " ".join(text.split()), text  # said when set
            app.press("enter")  # OK
            text = app.screen_text()
            assert "Écrire le menu de démarrage : Windows 10 Education | Debian" in text, text
            assert "Le PC affichera ce menu à son prochain démarrage" in text
            app.press("enter")  # Confirmer
            app.wait_task()
            text = app.screen_text()
            assert "Le menu de démarrage" in text and "est prêt" in text, text
            saved = config.load()
            assert saved.password_hash and config.password_matches(saved, "ecole42")
            # what GRUB receives from the AZERTY keys of "ecole42" (4 and 2 are shifted)
            assert config.check_password("ecole$@", saved.password_hash)
            assert files_containing(tmp_path, b"ecole42") == []
            menu = (lab.store / "boot/grub/grub.cfg").read_text()
            assert saved.password_hash in menu and "--id windows-1 --unrestricted" in menu
    finally:
        i18n.reset()


def type_passwords(app: object, first: str, second: str) -> None:
    import urwid

    screen = app.current.widget  # type: ignore[attr-defined]
    edits = [getattr(w, "original_widget", w) for w in screen.body]
    fields = [w for w in edits if isinstance(w, urwid.Edit)]
    fields[0].set_edit_text(first)
    fields[1].set_edit_text(second)
    screen.set_focus(len(screen.body) - 1)
    app.press("enter")  # type: ignore[attr-defined]


def pick_disk(app: object, name: str) -> None:
    screen = app.current.widget  # type: ignore[attr-defined]
    labels = [str(getattr(getattr(w, "original_widget", w), "label", "")) for w in screen.body]
    screen.set_focus(labels.index(name))
    app.press("enter")  # type: ignore[attr-defined]
