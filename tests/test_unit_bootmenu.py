"""The boot menu's pure parts: what is detected from a system's files, how GRUB script is
quoted, the menu rendered (and accepted by the real grub-script-check), the refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from oscar.core import config
from oscar.core.errors import OscarError, TargetRefused
from oscar.disks.devices import Disk, Partition
from oscar.engine import bootsystems, grubcfg, grubinstall
from oscar.engine.bootsystems import BootSystem
from oscar.ops.bootinstall import BootSettings, check_target, peak_growth, read_sums
from oscar.ui.tui.main import pinned_backup

pytestmark = pytest.mark.unit
UUID = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"


def test_newest_kernel_and_its_initrd() -> None:
    files = ["config-6.1.0-9-amd64", "vmlinuz-6.1.0-9-amd64", "initrd.img-6.1.0-9-amd64",
             "vmlinuz-6.1.0-13-amd64", "initrd.img-6.1.0-13-amd64", "System.map-6.1.0-13-amd64",
             "vmlinuz-6.1.0-13-amd64.sig"]
    assert bootsystems.pick_kernel(files) == ("vmlinuz-6.1.0-13-amd64",
                                              "initrd.img-6.1.0-13-amd64")
    # Fedora's names; and a kernel without an initrd still boots (built-in drivers).
    assert bootsystems.pick_kernel(["vmlinuz-6.5.6-300.fc39.x86_64",
                                    "initramfs-6.5.6-300.fc39.x86_64.img"]) == (
        "vmlinuz-6.5.6-300.fc39.x86_64", "initramfs-6.5.6-300.fc39.x86_64.img")
    assert bootsystems.pick_kernel(["vmlinuz-5.10.0-1"]) == ("vmlinuz-5.10.0-1", None)
    assert bootsystems.pick_kernel(["grub", "efi"]) is None


def test_os_release_and_kernel_options_from_the_system() -> None:
    release = bootsystems.parse_os_release(
        '# comment\nPRETTY_NAME="Ubuntu 22.04.3 LTS"\nNAME=Ubuntu\nbroken line\nID=ubuntu\n')
    assert bootsystems.linux_title(release) == "Ubuntu 22.04.3 LTS"
    assert bootsystems.linux_title({}) == "Linux"
    grub = ('GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet splash"\n'
            "GRUB_CMDLINE_LINUX='console=ttyS0,115200n8 net.ifnames=0'\n")
    assert bootsystems.grub_default_options(grub) == \
        "console=ttyS0,115200n8 net.ifnames=0 quiet splash"
    assert bootsystems.grub_default_options("") == "quiet"
    assert bootsystems.linux_options(UUID, "quiet") == f"root=UUID={UUID} ro quiet"


def test_esp_is_recognised_on_gpt_and_mbr() -> None:
    esp = Partition("/dev/sda1", 1, 1 << 20, 100 << 20, "vfat",
                    parttype="C12A7328-F81F-11D2-BA4B-00A0C93EC93B")
    assert bootsystems.is_esp(esp)
    assert bootsystems.is_esp(Partition("/dev/sda1", 1, 0, 1, "vfat", parttype="ef"))
    assert not bootsystems.is_esp(Partition("/dev/sda1", 1, 0, 1, "vfat", parttype="c"))


@pytest.mark.parametrize("text, quoted", [
    ("Windows", "Windows"), ("root=UUID=ab-12", "root=UUID=ab-12"),
    ("Debian GNU/Linux 12 (bookworm)", "'Debian GNU/Linux 12 (bookworm)'"),
    ("it's", "'it'\\''s'"), ("$(reboot); {x}", "'$(reboot); {x}'"), ('a"b', "'a\"b'")])
def test_grub_words_are_quoted_when_grub_would_interpret_them(text: str, quoted: str) -> None:
    assert grubcfg.grub_word(text) == quoted


def systems() -> list[BootSystem]:
    return [BootSystem("windows", "Windows 10 Éducation", 1, "6A0DBF74652E0A92", "bios"),
            BootSystem("windows", "Windows 11", 5, "976E-F889", "efi",
                       loader=bootsystems.WINDOWS_EFI_LOADER),
            BootSystem("linux", 'Distro "quoted" $HOME; reboot', 2, UUID, "any",
                       loader="/boot/vmlinuz-6.1", initrd="/boot/initrd.img-6.1",
                       options=f"root=UUID={UUID} ro quiet init=/bin/sh;reboot", fstype="ext4")]


def test_disk_menu_lists_systems_then_protected_oscar_and_restaure() -> None:
    hashed = config.hash_password("secret", salt=b"s" * 64)
    text = grubcfg.render_disk(systems=systems(), oscar_uuid=UUID, password_hash=hashed,
                               default="windows-1", timeout=7, backup="pc07")
    grubcfg.check(text)  # the real grub-script-check accepts it
    assert "secret" not in text
    assert f"password_pbkdf2 oscar {hashed}" in text and 'set superusers="oscar"' in text
    assert 'set default="windows-1"' in text and "set timeout=7" in text
    order = [text.index(t) for t in ("'Windows 10 Éducation'", "'Windows 11'", "Distro",
                                     'menuentry "OSCAR"', 'menuentry "restaure"')]
    assert order == sorted(order)
    for entry in ("windows-1", "windows-5", "linux-2"):
        assert f"--id {entry} --unrestricted" in text
    assert '"OSCAR" --id oscar {' in text and '"restaure" --id restaure {' in text
    assert "chainloader +1" in text and f"chainloader {bootsystems.WINDOWS_EFI_LOADER}" in text
    # The title and the options cannot run commands in GRUB.
    assert "'Distro \"quoted\" $HOME; reboot'" in text and "'init=/bin/sh;reboot'" in text
    restaure = text[text.index('"restaure"'):]
    assert "oscar=restaure oscar.backup=pc07" in restaure
    assert f"live-media=/dev/disk/by-uuid/{UUID} live-media-path=/boot/live" in restaure


def test_menu_without_password_or_systems_still_valid() -> None:
    text = grubcfg.render_disk(systems=[], oscar_uuid=UUID, password_hash=None,
                               default="oscar", timeout=0, lang="en")
    grubcfg.check(text)
    assert "superusers" not in text and "oscar.lang=en" in text


def test_a_broken_menu_is_refused_by_the_check() -> None:
    with pytest.raises(OscarError, match="not valid"):
        grubcfg.check('menuentry "x" {\n  linux /vmlinuz\n')
    with pytest.raises(OscarError, match="PBKDF2"):
        grubcfg.render_disk(systems=[], oscar_uuid=UUID, password_hash="secret",
                            default="oscar", timeout=5)


def test_boot_image_finds_the_oscar_partition_by_uuid() -> None:
    assert grubinstall.early_config(UUID) == (
        f"search --no-floppy --fs-uuid --set=root {UUID}\nset prefix=($root)/boot/grub\n")
    with pytest.raises(ValueError):
        grubinstall.early_config("x; reboot")
    argv = grubinstall.mkimage_argv("bios", Path("/tmp/early.cfg"), Path("/tmp/core.img"))
    assert argv[:3] == ["grub-mkimage", "--format", "i386-pc"]
    assert {"biosdisk", "part_msdos", "ext2", "search"} <= set(argv)
    assert "fat" in grubinstall.mkimage_argv("efi", Path("a"), Path("b"))


def test_the_bios_boot_image_must_fit_before_the_first_partition() -> None:
    assert grubinstall.gap_sectors(1 << 20) == 2047
    assert grubinstall.gap_fits(1 << 20, 40_000)
    assert not grubinstall.gap_fits(63 * 512, 40_000)  # Windows XP's layout: 31 KB
    assert not grubinstall.foreign_gap_data(bytes(4096), None)
    oem = b"\0" * 512 + b"OEM recovery key" + bytes(100)
    assert grubinstall.foreign_gap_data(oem, None)
    # What OSCAR itself wrote there last time is not foreign; anything else is.
    assert not grubinstall.foreign_gap_data(oem, grubinstall.gap_digest(oem))
    assert grubinstall.foreign_gap_data(oem, grubinstall.gap_digest(bytes(10)))


def disk(pttype: str, parts: list[Partition], **kw: object) -> Disk:
    return Disk("/dev/sda", 100 << 30, pttype=pttype, partitions=parts, **kw)  # type: ignore[arg-type]


OSCAR = Partition("/dev/sda4", 4, 60 << 30, 40 << 30, "ext4", label="OSCAR", uuid=UUID,
                  parttype="83")


def test_target_refusals() -> None:
    assert check_target(disk("dos", [OSCAR]))[2] == ["bios"]
    esp = Partition("/dev/sda1", 1, 1 << 20, 260 << 20, "vfat", uuid="976E-F889",
                    parttype="C12A7328-F81F-11D2-BA4B-00A0C93EC93B")
    assert check_target(disk("gpt", [esp, OSCAR]))[2] == ["efi"]
    with pytest.raises(TargetRefused, match="without an EFI system partition"):
        check_target(disk("gpt", [OSCAR]))
    with pytest.raises(TargetRefused, match="no OSCAR partition"):
        check_target(disk("dos", [Partition("/dev/sda1", 1, 1 << 20, 1 << 30, "ntfs")]))
    with pytest.raises(TargetRefused, match="started from"):
        check_target(disk("dos", [OSCAR], is_boot_medium=True))


def test_settings_round_trip_and_checksums(tmp_path: Path) -> None:
    settings = BootSettings(default="linux-2", timeout=3, backup="pc07",
                            password_hash=config.hash_password("x"), platforms=["bios"])
    settings.save(tmp_path)
    assert BootSettings.load(tmp_path) == settings
    assert (tmp_path / "boot/oscar/boot.yaml").stat().st_mode & 0o077 == 0
    assert BootSettings.load(tmp_path / "nothing") is None
    (tmp_path / "B2SUMS").write_text("abc  vmlinuz\ndef  initrd.img\n")
    assert read_sums(tmp_path) == {"vmlinuz": "abc", "initrd.img": "def"}


def test_restaure_backup_named_on_the_kernel_line() -> None:
    assert pinned_backup("BOOT_IMAGE=/boot/live/vmlinuz oscar=restaure oscar.backup=pc07") == "pc07"
    assert pinned_backup("oscar=restaure") is None


def test_a_missing_template_is_a_clear_error(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OSCAR_GRUB_TEMPLATES", str(tmp_path))
    with pytest.raises(OscarError, match="template cannot be used") as caught:
        grubcfg.render_disk(systems=[], oscar_uuid=UUID, password_hash=None, default="oscar",
                            timeout=5)
    assert str(tmp_path) in (caught.value.hint or "")


def test_space_for_the_live_files_first_install_and_replacement() -> None:
    mib = 1 << 20
    # Nothing installed yet: exactly the three files, no staged double.
    assert peak_growth([8 * mib, 35 * mib, 257 * mib], [0, 0, 0]) == 300 * mib
    # Same sizes again: the biggest file exists twice while it is staged.
    assert peak_growth([8 * mib, 35 * mib, 257 * mib], [8 * mib, 35 * mib, 257 * mib]) \
        == 257 * mib
    # A bigger squashfs: the growth before it plus the new one staged.
    assert peak_growth([8 * mib, 35 * mib, 300 * mib], [8 * mib, 30 * mib, 257 * mib]) \
        == 305 * mib
    # Smaller files: only the first staged copy grows the used space.
    assert peak_growth([1 * mib, 1 * mib, 10 * mib], [8 * mib, 35 * mib, 257 * mib]) == mib


def test_firmware_entries_labelled_oscar_are_found_with_their_loader() -> None:
    """An OSCAR entry that starts GRUB directly (before Secure Boot) is told from one that
    starts shim: the former is replaced by `oscar install`."""
    listing = ("BootCurrent: 0001\nBootOrder: 0003,0000,0001\n"
               "Boot0000* Windows Boot Manager\tHD(1,GPT,ab,0x800,0x32000)/File(\\EFI\\Microsoft"
               "\\Boot\\bootmgfw.efi)\n"
               "Boot0003* OSCAR\tHD(1,GPT,ab,0x800,0x32000)/File(\\EFI\\oscar\\grubx64.efi)\n"
               "Boot0004  OSCAR-like\tHD(1,GPT,ab)/File(\\EFI\\x.efi)\n")
    entries = grubinstall.oscar_entries(listing)
    assert entries == [("0003", "\tHD(1,GPT,ab,0x800,0x32000)/File(\\EFI\\oscar\\grubx64.efi)")]
    assert grubinstall.EFI_LOADER.replace("/", "\\").lower() not in entries[0][1].lower()
    assert grubinstall.EFI_LOADER == "/EFI/oscar/shimx64.efi"
