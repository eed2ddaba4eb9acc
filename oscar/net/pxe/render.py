"""dnsmasq's configuration and the network boot menu, rendered from the templates in grub/ and
checked by the tools themselves (dnsmasq --test, grub-script-check) before any server starts."""

from __future__ import annotations

from pathlib import Path

import jinja2

from oscar.core import run
from oscar.core.errors import OscarError
from oscar.core.i18n import _
from oscar.engine import grubcfg
from oscar.net.pxe.settings import LEASE_TIME, PxeSettings, live_options

BIOS_FILE = "boot/grub/core.0"
# shim at the TFTP root: it fetches grubx64.efi from there (the firmware's PXE stack gives it
# no folder), and the signed network GRUB reads /grub/grub.cfg.
EFI_FILE = "shimx64.efi"


def _render(template: str, **values: object) -> str:
    try:
        return grubcfg.environment().get_template(template).render(**values)
    except jinja2.TemplateError as exc:
        raise OscarError(_("The template {name} cannot be used: {why}").format(
            name=template, why=f"{type(exc).__name__}: {exc}"[:200]),
            _("Nothing was started; check the templates in {folder}.").format(
                folder=grubcfg.templates_dir())) from exc


def dnsmasq_config(settings: PxeSettings, *, tftp_root: Path, log: Path, pidfile: Path,
                   leases: Path) -> str:
    net = settings.network
    return _render(
        "dnsmasq.conf.j2", interface=settings.interface, mode=settings.mode,
        network=str(net.network_address), netmask=str(net.netmask),
        range_from=settings.range_from, range_to=settings.range_to, lease_time=LEASE_TIME,
        title="OSCAR", bios_file=BIOS_FILE, efi_file=EFI_FILE, tftp_root=str(tftp_root),
        log=str(log), pidfile=str(pidfile), leases=str(leases))


def grub_menu(settings: PxeSettings) -> str:
    grubcfg.check_hash(settings.password_hash)
    return _render(
        "pxe.cfg.j2", timeout=settings.timeout, password_hash=settings.password_hash,
        superuser=grubcfg.SUPERUSER, server=settings.server, tftp=f"(tftp,{settings.server})",
        live_options=live_options(settings.server, settings.http_port, settings.lang),
        deploy_title=_("OSCAR — receive the deployment"), loading=_("Loading OSCAR..."),
        disk_title=_("Boot the local disk"))


def check_dnsmasq(config: Path) -> None:
    result = run.run(["dnsmasq", "--test", f"--conf-file={config}"], check=False)
    if result.returncode != 0:
        why = (result.stderr or result.stdout.decode()).strip().splitlines() or ["?"]
        raise OscarError(_("The generated dnsmasq configuration is not valid: {why}").format(
            why=why[-1][:200]), _("Nothing was started; check the templates in {folder}.").format(
            folder=grubcfg.templates_dir()))


def check_grub(text: str) -> None:
    grubcfg.check(text, hint=_("Nothing was started; check the templates in {folder}.").format(
        folder=grubcfg.templates_dir()))
