"""Network boot's pure parts: the DHCP mode decision and consent, addresses and ranges, the
DHCP probe's packets, the generated dnsmasq and GRUB configurations (checked by dnsmasq
--test and grub-script-check), GRUB's network image argv, the port and address parsers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scapy.layers.dhcp import BOOTP, DHCP

from oscar.core import config, run
from oscar.core.errors import OscarError, UsageError
from oscar.engine import netinfo
from oscar.net.pxe import dhcpprobe, netboot, render, summary
from oscar.net.pxe import settings as pxesettings
from oscar.net.pxe.settings import PxeSettings, decide_mode, lease_range, parse_address

pytestmark = pytest.mark.unit
SCHOOL = dhcpprobe.Offer("10.0.0.2", "10.0.0.120", "", "10.0.0.2", "")
PROXY = dhcpprobe.Offer("10.0.0.9", "0.0.0.0", "", "10.0.0.9", "PXEClient")


def settings(mode: str = "proxy", **kw: object) -> PxeSettings:
    values: dict[str, object] = {"interface": "eth0", "server": "10.0.0.1", "prefix": 24,
                                 "mode": mode, "live_dir": "/srv/live"}
    values.update(kw)
    return PxeSettings(**values)  # type: ignore[arg-type]


# -- the DHCP decision: two servers never lease on one network without consent -------------
def test_auto_is_proxy_beside_a_leasing_server_even_if_another_proxy_answers() -> None:
    assert decide_mode("auto", [PROXY, SCHOOL], consent=False) == "proxy"


def test_auto_without_a_server_needs_consent() -> None:
    with pytest.raises(UsageError) as refused:
        decide_mode("auto", [], consent=False)
    assert "consent" in refused.value.message and "--dhcp full" in (refused.value.hint or "")
    assert decide_mode("auto", [], consent=True) == "full"
    # a proxy DHCP server does not lease: still no consent, still refused
    with pytest.raises(UsageError):
        decide_mode("auto", [PROXY], consent=False)


def test_full_is_refused_when_a_server_leases_even_when_asked() -> None:
    with pytest.raises(UsageError) as refused:
        decide_mode("full", [SCHOOL], consent=True)
    assert "10.0.0.2" in refused.value.message and "--dhcp proxy" in (refused.value.hint or "")
    assert decide_mode("full", [], consent=False) == "full"  # --dhcp full is the consent


def test_proxy_and_none_are_taken_as_asked() -> None:
    assert decide_mode("proxy", [], consent=False) == "proxy"
    assert decide_mode("none", [SCHOOL], consent=False) == "none"
    with pytest.raises(UsageError):
        decide_mode("maybe", [], consent=False)


# -- addresses ---------------------------------------------------------------------------
def test_lease_range_default_and_explicit() -> None:
    assert lease_range("192.168.1.1", 24, None) == ("192.168.1.100", "192.168.1.199")
    assert lease_range("10.0.0.1", 16, None) == ("10.0.0.100", "10.0.0.199")
    assert lease_range("10.0.0.1", 28, None) == ("10.0.0.8", "10.0.0.14")
    assert lease_range("10.0.0.1", 24, "10.0.0.50, 10.0.0.60") == ("10.0.0.50", "10.0.0.60")


@pytest.mark.parametrize("text,message", [
    ("10.0.0.50", "not a range"), ("a,b", "not a range"),
    ("10.0.1.5,10.0.1.9", "not inside"), ("10.0.0.60,10.0.0.50", "not inside"),
    ("10.0.0.1,10.0.0.9", "OSCAR's own address"),
])
def test_lease_range_refusals(text: str, message: str) -> None:
    with pytest.raises(UsageError) as refused:
        lease_range("10.0.0.1", 24, text)
    assert message in refused.value.message and refused.value.hint


def test_parse_address() -> None:
    assert str(parse_address("192.168.50.1/24")) == "192.168.50.1/24"
    for bad in ("192.168.50.1", "300.1.1.1/24", "10.0.0.1/31", "box/24"):
        with pytest.raises(UsageError):
            parse_address(bad)


def test_settings_survive_json() -> None:
    s = settings("full", range_from="10.0.0.100", range_to="10.0.0.199", password_hash=None)
    assert PxeSettings.from_json(s.to_json()) == s
    assert str(s.network) == "10.0.0.0/24"


# -- the probe's packets -------------------------------------------------------------------
def test_discover_asks_for_a_broadcast_answer_and_says_pxe_when_asked() -> None:
    packet = BOOTP(dhcpprobe.discover_packet("52:54:00:12:34:56", 0xCAFE, pxe_arch=7))
    assert packet.op == 1 and packet.xid == 0xCAFE and packet.flags == 0x8000
    assert packet.chaddr[:6] == bytes.fromhex("525400123456")
    options = dict(o for o in packet[DHCP].options if isinstance(o, tuple))
    assert options["message-type"] == 1
    assert options["vendor_class_id"] == b"PXEClient:Arch:00007:UNDI:002001"
    plain = BOOTP(dhcpprobe.discover_packet("52:54:00:12:34:56", 1))
    assert "vendor_class_id" not in dict(o for o in plain[DHCP].options if isinstance(o, tuple))


def _offer(xid: int, yiaddr: str, message: str = "offer", **extra: object) -> bytes:
    options: list[object] = [("message-type", message), ("server_id", "10.0.0.2")]
    options += list(extra.items())
    options.append("end")
    return bytes(BOOTP(op=2, xid=xid, yiaddr=yiaddr, siaddr="10.0.0.2", file=b"pxelinux.0")
                 / DHCP(options=options))


def test_parse_offer_reads_server_address_and_boot_file() -> None:
    offer = dhcpprobe.parse_offer(_offer(7, "10.0.0.120"), 7, "10.0.0.2")
    assert offer == dhcpprobe.Offer("10.0.0.2", "10.0.0.120", "pxelinux.0", "10.0.0.2", "")
    assert offer.leases
    proxy = dhcpprobe.parse_offer(_offer(7, "0.0.0.0", vendor_class_id=b"PXEClient"), 7, "x")
    assert proxy is not None and not proxy.leases and proxy.vendor_class == "PXEClient"


def test_parse_offer_ignores_other_answers_and_junk() -> None:
    assert dhcpprobe.parse_offer(_offer(8, "10.0.0.120"), 7, "10.0.0.2") is None  # not ours
    assert dhcpprobe.parse_offer(_offer(7, "10.0.0.120", "ack"), 7, "10.0.0.2") is None
    assert dhcpprobe.parse_offer(b"\x02junk", 7, "10.0.0.2") is None
    assert dhcpprobe.parse_offer(b"", 7, "10.0.0.2") is None


# -- generated configurations, checked by the tools themselves ---------------------------
@pytest.mark.parametrize("mode", ["proxy", "pxe", "full", "none"])
def test_dnsmasq_config_per_mode_passes_dnsmasq_test(mode: str, tmp_path: Path) -> None:
    s = settings(mode, range_from="10.0.0.100", range_to="10.0.0.199")
    text = render.dnsmasq_config(s, tftp_root=tmp_path, log=tmp_path / "log",
                                 pidfile=tmp_path / "pid", leases=tmp_path / "leases")
    conf = tmp_path / "dnsmasq.conf"
    conf.write_text(text)
    render.check_dnsmasq(conf)
    lines = text.splitlines()
    leasing = mode in ("full", "pxe")
    assert "port=0" in lines and "interface=eth0" in lines and "enable-tftp" in lines
    assert ("dhcp-range=10.0.0.0,proxy,255.255.255.0" in lines) == (mode == "proxy")
    assert ("dhcp-range=10.0.0.100,10.0.0.199,255.255.255.0,1h" in lines) == leasing
    # pxe: only PC firmware booting from the network is answered
    assert ("dhcp-ignore=tag:!pxe" in lines) == (mode == "pxe")
    assert any(line.startswith("pxe-service=x86PC,") and line.endswith("boot/grub/core.0")
               for line in lines) == (mode == "proxy")
    # UEFI: shim at the TFTP root (Debian's signed chain)
    assert sum(line.startswith("pxe-service=") and line.endswith(",shimx64.efi")
               for line in lines) == (2 if mode == "proxy" else 0)
    assert ("dhcp-boot=tag:pxe,tag:efi64,shimx64.efi" in lines) == leasing
    assert ("dhcp-boot=tag:pxe,tag:!efi64,boot/grub/core.0" in lines) == leasing


def test_proxy_mode_says_uefi_pcs_need_the_pxe_mode() -> None:
    warning = pxesettings.uefi_warning("proxy")
    assert warning is not None and "--dhcp pxe --range" in warning
    assert all(pxesettings.uefi_warning(m) is None for m in ("full", "pxe", "none"))
    running = summary.Running(settings("proxy"), "now", [], False)
    assert warning in summary.lines(running)
    pxe_lines = summary.lines(summary.Running(settings("pxe", range_from="10.0.0.240",
                                                       range_to="10.0.0.250"), "now", [], False))
    assert any("network-booting PCs only, leasing 10.0.0.240–10.0.0.250" in line
               for line in pxe_lines), pxe_lines
    assert not any("cannot start" in line for line in pxe_lines)


def test_pxe_mode_is_taken_beside_a_leasing_server() -> None:
    school = [dhcpprobe.Offer(server="10.0.0.254", address="10.0.0.120", boot_file="",
                              next_server="", vendor_class="")]
    assert pxesettings.decide_mode("pxe", school, consent=False) == "pxe"
    assert pxesettings.decide_mode("auto", school, consent=False) == "proxy"


def test_a_broken_dnsmasq_config_is_refused(tmp_path: Path) -> None:
    conf = tmp_path / "dnsmasq.conf"
    conf.write_text("port=0\nno-such-option=1\n")
    with pytest.raises(OscarError) as refused:
        render.check_dnsmasq(conf)
    assert "not valid" in refused.value.message and "Nothing was started" in (
        refused.value.hint or "")


def _entries(menu: str) -> dict[str, str]:
    return {line.split("--id ")[1].split()[0]: line for line in menu.splitlines()
            if line.startswith("menuentry")}


def test_network_menu_defaults_to_the_local_disk_and_checks() -> None:
    menu = render.grub_menu(settings())
    render.check_grub(menu)
    assert "set default=disk" in menu and "set timeout=10" in menu
    entries = _entries(menu)
    assert list(entries) == ["deploy", "oscar", "disk"]
    assert "--unrestricted" in entries["disk"]
    assert "linux (tftp,10.0.0.1)/live/vmlinuz boot=live components " \
           "fetch=http://10.0.0.1:7173/live/filesystem.squashfs" in menu
    assert "oscar=deploy oscar.server=10.0.0.1" in menu
    assert "superusers" not in menu  # no password configured: nothing to protect with


def test_network_menu_with_the_password_protects_the_oscar_entries() -> None:
    hashed = config.hash_password("ecole42", salt=b"\x01" * 64)
    menu = render.grub_menu(settings(password_hash=hashed, timeout=5, lang="en"))
    render.check_grub(menu)
    assert 'set superusers="oscar"' in menu and f"password_pbkdf2 oscar {hashed}" in menu
    entries = _entries(menu)
    assert "--unrestricted" not in entries["deploy"] + entries["oscar"]
    assert "--unrestricted" in entries["disk"]
    assert "oscar.lang=en" in menu and "ecole42" not in menu
    with pytest.raises(OscarError):
        render.grub_menu(settings(password_hash="clear-text"))


def test_grub_bios_network_image_names_the_oscar_server(tmp_path: Path) -> None:
    argv = netboot.mkimage_argv("10.0.0.1", tmp_path / "core.0")
    assert argv[:3] == ["grub-mkimage", "--format", "i386-pc-pxe"]
    assert argv[argv.index("--prefix") + 1] == "(tftp,10.0.0.1)/boot/grub"
    assert argv[-2:] == ["pxe", "tftp"]
    run.run(argv)
    assert (tmp_path / "core.0").stat().st_size > 20_000


# -- parsers ----------------------------------------------------------------------------
def test_parse_ss_names_the_program_on_each_port() -> None:
    text = ('UNCONN 0 0 10.0.0.1:69 0.0.0.0:* users:(("dnsmasq",pid=812,fd=9))\n'
            'UNCONN 0 0 0.0.0.0%eth0:67 0.0.0.0:* users:(("dnsmasq",pid=812,fd=4))\n'
            "UNCONN 0 0 [::]:5353 [::]:*\n")
    found = netinfo.parse_ss(text, "udp")
    assert [(x.port, x.program) for x in found] == [(69, "dnsmasq (pid 812)"),
                                                   (67, "dnsmasq (pid 812)"), (5353, "?")]


def test_parse_ip_json_keeps_the_prefix() -> None:
    text = json.dumps([{"ifname": "eth0", "address": "52:54:00:00:00:01", "flags": ["UP"],
                        "addr_info": [{"family": "inet", "local": "10.0.0.1", "prefixlen": 24,
                                       "broadcast": "10.0.0.255"}]}])
    (iface,) = netinfo.parse_ip_json(text)
    assert iface.address == "10.0.0.1" and iface.prefix == 24


def test_summary_says_mode_files_nfs_password_and_leases() -> None:
    from oscar.net.pxe import summary

    assert summary.lines(None) == ["The network boot is not running."]
    running = summary.Running(settings("full", range_from="10.0.0.100", range_to="10.0.0.199",
                                       password_hash="grub.pbkdf2.sha512.10000.AA.BB"),
                              "2026-11-27 10:00:00",
                              [("52:54:00:0a:0b:0c", "10.0.0.100", "oscar")], False)
    text = "\n".join(summary.lines(running))
    assert "Network boot running on eth0 (10.0.0.1) since 2026-11-27 10:00:00." in text
    assert "DHCP: DHCP, leasing 10.0.0.100–10.0.0.199" in text
    assert "HTTP: http://10.0.0.1:7173/" in text
    assert "NFS: not offered (this kernel has no NFS server)" in text
    assert "OSCAR entries protected by the password" in text
    assert "Leased: 10.0.0.100 to 52:54:00:0a:0b:0c (oscar)" in text
    proxy = summary.Running(settings("proxy"), "x", [], True)
    assert "proxy DHCP (the school's server leases the addresses)" in "\n".join(
        summary.lines(proxy))


def test_own_mac_is_the_only_card_with_a_link_or_says_it_cannot_tell() -> None:
    def card(name: str, mac: str, up: bool) -> netinfo.Interface:
        return netinfo.Interface(name, mac, None, None, up)

    lo = card("lo", "00:00:00:00:00:00", True)
    a, b = card("eth0", "52:54:00:00:00:01", True), card("eth1", "52:54:00:00:00:02", False)
    assert netinfo.own_mac([lo, a, b]) == a.mac
    assert netinfo.own_mac([lo, b]) == b.mac  # the only card, even without a link
    both_up = [a, card("eth1", "52:54:00:00:00:02", True)]
    assert netinfo.own_mac(both_up) is None
    assert netinfo.own_mac(both_up, guess=True) == a.mac
    assert netinfo.own_mac([lo]) is None
