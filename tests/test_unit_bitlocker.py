"""BitLocker without a disk: the metadata parser (real headers Windows wrote, and fuzzed
bytes), the keys a technician gives, and the plans of save, restore, deploy and install."""

from __future__ import annotations

import dataclasses
import struct
import subprocess
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oscar.backups import manifest as manifests
from oscar.backups.store import Store
from oscar.core.errors import TargetRefused, UsageError
from oscar.disks import bitlocker
from oscar.disks.devices import BitLocker, Disk, Partition
from oscar.engine import bootsystems, dislocker, grubcfg, grubinstall
from oscar.net.deploy.sender import refuse_encrypted
from oscar.ops.bootinstall import check_target, plan_install
from oscar.ops.restore.planner import bitlocker_warnings
from oscar.ops.save import Opened, SaveOptions, build_plan, select_partitions
from tests.machines import GB, MIB, saved_backup, school_pc
from tests.test_unit_plans import install_facts

pytestmark = pytest.mark.unit

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "bitlocker"
RECOVERY = "235818-357951-253979-013365-241120-245575-342914-591910"
RECOVERY_ID = "64311DEA-4587-4029-924A-BA299647998E"


@pytest.fixture(scope="module")
def headers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The volumes exactly as Windows left them (the first MiBs are enough to parse)."""
    if not (DATA / "bitlocker-volumes.tar.xz").exists():
        pytest.skip(f"{DATA} is missing")
    root = tmp_path_factory.mktemp("bitlk")
    subprocess.run(["tar", "-xf", str(DATA / "bitlocker-volumes.tar.xz"), "-C", str(root)],
                   check=True)
    return {p.stem: p for p in (root / "bitlk-images").glob("*.img")}


@pytest.mark.parametrize("name,cipher", [("bitlk-aes-xts-128", "AES-XTS-128"),
                                         ("bitlk-aes-cbc-128", "AES-CBC-128"),
                                         ("bitlk-togo-aes-xts-128", "AES-XTS-128")])
def test_windows_metadata_is_read_without_a_key(headers: dict[str, Path], name: str,
                                                cipher: str) -> None:
    info = bitlocker.read_device(str(headers[name]), 100 << 20)
    assert info is not None
    assert (info.state, info.cipher, info.size) == ("encrypted", cipher, 100 << 20)
    assert info.protectors == ["password", "recovery-password"]
    assert len(info.recovery_ids) == 1 and info.recovery_key_id == info.recovery_ids[0][:8]
    assert info.description.startswith("DESKTOP-NPM7RCA")
    assert not info.unlocked_without_key
    if name == "bitlk-aes-xts-128":
        assert info.recovery_ids == [RECOVERY_ID]


def _block(protection: int, state: int = 4) -> bytes:
    key_id = uuid.uuid4()
    vmk = key_id.bytes_le + bytes(8) + struct.pack("<HH", 0, protection)
    entries = struct.pack("<HHHH", 8 + len(vmk), 2, 8, 1) + vmk
    meta = struct.pack("<IIII", 48 + len(entries), 1, 48, 48 + len(entries)) + bytes(16)
    meta += struct.pack("<IHHQ", 1, 0x8005, 0, 0) + entries
    header = b"-FVE-FS-" + struct.pack("<HHHHQ", 0, 2, state, state, 64 << 20) + bytes(40)
    return header + meta


def test_a_suspended_volume_is_known_to_open_without_a_key() -> None:
    info = bitlocker.parse_block(_block(0x0000))
    assert info is not None and info.unlocked_without_key and info.cipher == "AES-XTS-256"
    tpm = bitlocker.parse_block(_block(0x0100, state=2))
    assert tpm is not None and tpm.protectors == ["tpm"] and tpm.state == "encrypting"
    assert "keys: tpm" in bitlocker.summary(tpm)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=600), st.integers(min_value=0, max_value=1 << 40))
def test_hostile_bytes_never_raise(data: bytes, size: int) -> None:
    bitlocker.parse_block(data)
    bitlocker.metadata_offsets(data, size)
    block = _block(0x0800)
    cut = len(data) % len(block)
    bitlocker.parse_block(block[:cut] + data)


def test_offsets_beyond_the_volume_are_left_out() -> None:
    boot = bytearray(512)
    boot[3:11] = b"-FVE-FS-"
    struct.pack_into("<3Q", boot, 176, 4096, 1 << 50, 0)
    assert bitlocker.metadata_offsets(bytes(boot), 1 << 30) == [4096]


# -- keys ---------------------------------------------------------------------------------------
def test_a_typed_key_is_a_recovery_password_or_a_password() -> None:
    key = dislocker.typed_key(RECOVERY.replace("-", "") + "\n")
    assert (key.kind, key.secret) == ("recovery-password", RECOVERY)
    assert dislocker.typed_key("anaconda\n").kind == "user-password"
    assert RECOVERY not in repr(key) and RECOVERY not in str(key)
    with pytest.raises(UsageError, match="group 8"):
        dislocker.typed_key(RECOVERY[:-1] + "1")
    with pytest.raises(UsageError):
        dislocker.typed_key("\n")


def test_windows_recovery_key_file_in_utf16(tmp_path: Path) -> None:
    text = (f"BitLocker Drive Encryption recovery key\r\nIdentifier:\r\n\t{RECOVERY_ID}\r\n"
            f"Recovery Key:\r\n\t{RECOVERY}\r\n")
    path = tmp_path / "BitLocker Recovery Key.TXT"
    path.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    [key] = dislocker.keys_from_file(path)
    assert (key.kind, key.secret, key.key_id) == ("recovery-password", RECOVERY, RECOVERY_ID)


def test_a_list_of_keys_is_tried_this_volumes_first(tmp_path: Path) -> None:
    other = "700854-045012-282117-436216-111815-123827-574783-023991"
    path = tmp_path / "keys.csv"
    path.write_text(f"PC-01,11111111-2222-3333-4444-555555555555,{other}\n"
                    f"PC-02,{RECOVERY_ID.lower()},{RECOVERY}\n")
    keys = dislocker.keys_from_file(path)
    assert [k.secret for k in keys] == [other, RECOVERY]
    info = BitLocker("encrypted", "AES-XTS-128", 1, ["recovery-password"], [RECOVERY_ID])
    assert [k.secret for k in dislocker.ordered(keys, info)] == [RECOVERY, other]


def test_bek_password_and_bad_files(tmp_path: Path) -> None:
    bek = tmp_path / "8F595209.BEK"
    bek.write_bytes(struct.pack("<III", 60, 1, 48) + bytes(48))
    assert [k.kind for k in dislocker.keys_from_file(bek)] == ["bek-file"]
    password = tmp_path / "pw.txt"
    password.write_text("\n  anaconda  \n")
    assert [(k.kind, k.secret) for k in dislocker.keys_from_file(password)] == [
        ("user-password", "anaconda")]
    junk = tmp_path / "photo.jpg"
    junk.write_bytes(b"\xff\xd8\xff\x00" * 100)
    with pytest.raises(UsageError, match="not a BitLocker key file"):
        dislocker.keys_from_file(junk)
    with pytest.raises(UsageError, match="cannot be read"):
        dislocker.keys_from_file(tmp_path / "missing")


def test_dislocker_argv_never_holds_the_secret() -> None:
    for key in (dislocker.Key("user-password", "anaconda"),
                dislocker.Key("recovery-password", RECOVERY)):
        argv = dislocker.argv("/dev/sda3", key, "/run/x")
        assert key.secret not in " ".join(argv) and argv[:2] == ["dislocker", "-r"]
    assert "-c" in dislocker.argv("/dev/sda3", dislocker.Key("clear-key"), "/run/x")


# -- plans --------------------------------------------------------------------------------------
LOCKED = BitLocker("encrypted", "AES-XTS-128", 120 * GB, ["tpm", "recovery-password"],
                   [RECOVERY_ID])


def bitlocker_pc(info: BitLocker = LOCKED, **changes: object) -> Disk:
    disk = school_pc(**changes)
    windows = disk.partitions[0]
    windows.fstype, windows.used, windows.bitlocker = "BitLocker", None, info
    return disk


def test_save_without_key_is_refused_with_the_size_raw_would_take() -> None:
    with pytest.raises(UsageError) as refused:
        select_partitions(bitlocker_pc(), set(), SaveOptions("b"))
    assert "120.0 GB" in refused.value.message and "cannot be compressed" in refused.value.message
    assert "--method raw" in refused.value.hint and "64311DEA" in refused.value.hint


def test_save_with_key_is_decrypted_ntfs_and_the_plan_says_where_to_keep_it() -> None:
    opts = SaveOptions("b")
    entries = select_partitions(bitlocker_pc(), set(), opts, {1: Opened("ntfs", 30 * GB)})
    first = entries[0]
    assert (first.fstype, first.method, first.bitlocker, first.used) == (
        "ntfs", "ntfsclone", "decrypted", 30 * GB)
    plan = build_plan(bitlocker_pc(), Store(Path("/srv/b")), entries, opts)
    assert any("decrypted" in s.label for s in plan.steps)
    assert any("locked away" in w for w in plan.warnings)


def test_raw_keeps_it_encrypted_and_says_so() -> None:
    opts = SaveOptions("b", method="raw")
    entries = select_partitions(bitlocker_pc(), set(), opts)
    assert (entries[0].method, entries[0].bitlocker, entries[0].fstype) == (
        "raw", "encrypted", "BitLocker")
    plan = build_plan(bitlocker_pc(), Store(Path("/srv/b")), entries, opts)
    assert any("120.0 GB" in w and "this PC only" in w for w in plan.warnings)


def test_manifest_bitlocker_field_is_checked() -> None:
    man = saved_backup()
    entry = man.part(1)
    assert entry is not None
    entry.bitlocker = "decrypted"
    assert manifests.parse(_json(man)).part(1).bitlocker == "decrypted"  # type: ignore[union-attr]
    for bad, method in (("encrypted", entry.method), ("plaintext", entry.method),
                        ("decrypted", "raw")):
        entry.bitlocker, entry.method = bad, method
        with pytest.raises(manifests.Damaged, match="bitlocker|fstype"):
            manifests.parse(_json(man))


def _json(man: manifests.Manifest) -> object:
    import json
    return json.loads(man.to_json())


def test_restore_and_deploy_rules() -> None:
    man = saved_backup()
    entry = man.part(1)
    assert entry is not None
    entry.bitlocker = "decrypted"
    refuse_encrypted(man)
    [said] = bitlocker_warnings(man.partitions, format_only=False)
    assert "unencrypted" in said and "encrypt it again" in said
    entry.bitlocker, entry.method, entry.fstype = "encrypted", "raw", "BitLocker"
    with pytest.raises(TargetRefused, match="TPM"):
        refuse_encrypted(man)
    assert "sector for sector" in bitlocker_warnings(man.partitions, format_only=False)[0]
    assert bitlocker_warnings(man.partitions, format_only=True) == []


def _gpt_bitlocker_pc(info: BitLocker = LOCKED) -> Disk:
    disk = bitlocker_pc(info, pttype="gpt")
    esp = Partition("/dev/sda5", 5, 496 * GB, 260 * MIB, "vfat", uuid="1234-ABCD",
                    parttype="c12a7328-f81f-11d2-ba4b-00a0c93ec93b")
    return dataclasses.replace(disk, partitions=[*disk.partitions, esp])


def test_install_on_a_bitlocker_pc_keeps_windows_boot_manager_first() -> None:
    plan = plan_install(install_facts(disk=_gpt_bitlocker_pc()))
    efi = next(s for s in plan.steps if s.action == "efi-boot")
    assert "after Windows Boot Manager" in efi.label and "fallback" not in efi.label
    assert any("F12" in w and "Use a device" in w for w in plan.warnings)
    suspended = dataclasses.replace(LOCKED, protectors=["clear-key", "tpm"])
    plan = plan_install(install_facts(disk=_gpt_bitlocker_pc(suspended)))
    assert "fallback" in next(s for s in plan.steps if s.action == "efi-boot").label


def test_install_on_a_bios_bitlocker_pc_is_refused_or_leaves_the_mbr() -> None:
    with pytest.raises(TargetRefused, match="recovery key") as refused:
        check_target(bitlocker_pc())
    assert "manage-bde" in refused.value.hint
    mixed = _gpt_bitlocker_pc()
    mixed.pttype = "dos"
    assert check_target(mixed)[2] == ["efi"]


def test_the_firmware_order_puts_oscar_last() -> None:
    listing = ("BootCurrent: 0001\nBootOrder: 0003,0000,0001\nBoot0000* Windows Boot Manager\t"
               "HD(1)\nBoot0001* UEFI PXE\nBoot0003* OSCAR\tHD(5)/File(\\EFI\\oscar\\shimx64.efi)\n")
    assert grubinstall.order_oscar_last(listing) == ["0000", "0001", "0003"]
    assert grubinstall.order_oscar_last(listing.replace("0003,0000,0001", "0000,0001,0003")) \
        is None


def test_windows_on_a_bitlocker_pc_is_started_by_a_restart_not_chainloaded() -> None:
    windows = bootsystems.BootSystem("windows", "Windows 11", 1, "1234-ABCD", "efi",
                                     loader="/EFI/Microsoft/Boot/bootmgfw.efi", via_firmware=True)
    menu = grubcfg.render_disk(systems=[windows], oscar_uuid="c0ffee00-1234-4abc-8def-00aa11bb22cc",
                               password_hash=None, default="windows-1", timeout=5, lang="en")
    entry = menu.split("menuentry 'Windows 11'")[1].split("}")[0]
    assert "reboot" in entry and "chainloader" not in entry and "BitLocker" in entry
