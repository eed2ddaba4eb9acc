"""The clients file of a room: per MAC address, what makes that PC itself. YAML or CSV; every
bad line is reported with its number before anything is written (no I/O on disks here).

YAML::

    defaults: {prefix: 24, gateway: 10.0.12.254, dns: [10.0.0.10], workgroup: SALLE12}
    clients:
      - {mac: "52:54:00:12:00:01", hostname: S12-PC01, ip: 10.0.12.101}
      - {mac: "52:54:00:12:00:02", hostname: S12-PC02, ip: dhcp}

CSV (header line, one PC per line; ``dns`` separated by spaces)::

    mac,hostname,ip,prefix,gateway,dns,product_key,domain,ou,join_user,workgroup
"""

from __future__ import annotations

import csv
import io
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from oscar.core import safetext
from oscar.core.errors import UsageError, os_reason
from oscar.core.i18n import _, ngettext

FIELDS = ("mac", "hostname", "ip", "prefix", "gateway", "dns", "product_key", "domain", "ou",
          "join_user", "workgroup")
MAC = re.compile(r"^[0-9a-f]{2}([:-][0-9a-f]{2}){5}$", re.IGNORECASE)
# What Windows accepts as a computer name: the NetBIOS name is at most 15 characters; letters,
# digits and hyphens travel safely through DNS and NetBIOS alike; a name of digits only is
# refused by Windows itself.
HOSTNAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,13}[A-Za-z0-9])?$")
PRODUCT_KEY = re.compile(r"^[0-9A-Z]{5}(-[0-9A-Z]{5}){4}$")
WORKGROUP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$")
# A domain account, as Windows and realmd take it: NAME, NETBIOS\NAME or NAME@domain; the
# characters Active Directory allows in an account name (no " / \ [ ] : ; | = , + * ? < > @).
ACCOUNT = re.compile(r"(?:[A-Za-z0-9][A-Za-z0-9_.-]{0,14}\\)?[\w][\w.-]{0,19}"
                     r"|[\w][\w.-]{0,63}@[A-Za-z0-9.-]{1,253}")
# One part of an OU's distinguished name: OU=Salle 12 d'arts (no character a DN escapes).
OU_PART = re.compile(r"(?i:OU|CN|DC)=[^\s,+\"\\<>;=#](?:[^,+\"\\<>;=]{0,62}[^\s,+\"\\<>;=])?")
MAX_FILE_BYTES = 1 << 20
MAX_FIELD = 256
MAX_SHOWN = 40  # problems listed in the message; the count says how many there are
DOMAIN = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
                    r"[A-Za-z]{2,63}$")


@dataclass(frozen=True)
class Network:
    address: ipaddress.IPv4Interface
    gateway: ipaddress.IPv4Address | None
    dns: tuple[ipaddress.IPv4Address, ...]


@dataclass(frozen=True)
class Client:
    line: int
    mac: str  # lower case, colons
    hostname: str
    network: Network | None  # None: DHCP
    product_key: str | None = None
    domain: str | None = None
    ou: str | None = None
    join_user: str | None = None
    workgroup: str | None = None


@dataclass(frozen=True)
class Problem:
    line: int
    message: str

    def __str__(self) -> str:
        return _("line {line}: {message}").format(line=self.line, message=self.message)


@dataclass
class ClientsFile:
    path: str
    clients: list[Client] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # how it was read (an encoding guessed)
    text: str = ""  # as read, in UTF-8 now: what a deployment sends its clients

    def for_mac(self, mac: str) -> Client | None:
        wanted = normalise_mac(mac)
        return next((c for c in self.clients if c.mac == wanted), None)

    def require(self, mac: str, hint: str) -> Client:
        client = self.for_mac(mac)
        if client is None:
            raise UsageError(_("The clients file has no line for {mac}.").format(mac=mac), hint)
        return client


def normalise_mac(mac: str) -> str:
    return mac.strip().lower().replace("-", ":")


# -- reading: rows with their line numbers ------------------------------------------------
class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases (a few lines of them expand to gigabytes) and
    without tags (a clients file has no use for types of its own)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]
        mark: Any = event.start_mark
        if isinstance(event, yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, _("aliases (*name) are not accepted"),
                                              mark)
        tag = getattr(event, "tag", None)
        if tag not in (None, "!"):
            raise yaml.composer.ComposerError(None, None, _("tags (!...) are not accepted"),
                                              mark)
        return super().compose_node(parent, index)


def _yaml_document(text: str) -> tuple[Any, Any]:
    """(root node, data) of a one-document YAML text, read by the strict loader."""
    loader = _StrictLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
        return root, data
    finally:
        loader.dispose()


def _yaml_rows(text: str) -> tuple[list[tuple[int, dict[str, Any]]], list[Problem]]:
    try:
        root, data = _yaml_document(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return [], [Problem(mark.line + 1 if mark else 1,
                            _("not valid YAML: {why}").format(why=getattr(exc, "problem", exc)))]
    except RecursionError:
        return [], [Problem(1, _("not valid YAML: {why}").format(why=_("nested too deeply")))]
    if not isinstance(root, yaml.MappingNode) or not isinstance(data, dict):
        return [], [Problem(1, _("the file must hold 'clients:' (and optionally 'defaults:')"))]
    defaults = data.get("defaults") or {}
    problems = []
    if not isinstance(defaults, dict):
        problems.append(Problem(1, _("'defaults' must be a mapping")))
        defaults = {}
    unknown = sorted(str(k) for k in set(data) - {"defaults", "clients"})
    if unknown:
        problems.append(Problem(1, _("unknown section: {names}").format(
            names=", ".join(unknown)[:200])))
    nodes = {key.value: value for key, value in root.value if isinstance(key, yaml.ScalarNode)}
    clients_node = nodes.get("clients")
    if not isinstance(clients_node, yaml.SequenceNode) or not isinstance(data["clients"], list):
        return [], [*problems, Problem(1, _("'clients' must be a list of PCs"))]
    rows = []
    for index, item in enumerate(data["clients"]):
        line = clients_node.value[index].start_mark.line + 1
        if not isinstance(item, dict):
            problems.append(Problem(line, _("each client must be a mapping (mac: ..., "
                                            "hostname: ...)")))
            continue
        rows.append((line, {str(k): v for k, v in {**defaults, **item}.items()}))
    return rows, problems


def _csv_rows(text: str) -> tuple[list[tuple[int, dict[str, Any]]], list[Problem]]:
    first = text.split("\n", 1)[0]
    # A spreadsheet saved as CSV in French separates its columns with ';'.
    delimiter = ";" if ";" in first and "," not in first else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    problems: list[Problem] = []
    rows = []
    try:
        header = [h.strip() for h in reader.fieldnames or []]
        unknown = [h for h in header if h not in FIELDS]
        if not header or "mac" not in header:
            return [], [Problem(1, _("the first line must name the columns, mac and hostname "
                                     "among them"))]
        if unknown:
            problems.append(Problem(1, _("unknown column: {names}").format(
                names=", ".join(unknown)[:200])))
        for raw in reader:
            values: dict[str, Any] = {(k or "").strip(): (v or "").strip() for k, v in raw.items()
                      if k is not None and isinstance(v, str) and v.strip()}
            if None in raw:
                problems.append(Problem(reader.line_num, _("more values than columns")))
                continue
            if values and not values.get("mac", "").startswith("#"):
                if "dns" in values:
                    values["dns"] = values["dns"].split()
                rows.append((reader.line_num, values))
    except csv.Error as exc:
        problems.append(Problem(reader.line_num + 1, _("unreadable CSV: {why}").format(
            why=exc)))
    return rows, problems


# -- checking ------------------------------------------------------------------------------
def _network(values: dict[str, Any], line: int, problems: list[Problem]) -> Network | None:
    ip = str(values.get("ip", "dhcp")).strip()
    if ip.lower() == "dhcp":
        # what DHCP will give is not written, but a wrong value is still a wrong line
        for item in [values.get("gateway"), *_dns_values(values)]:
            if item not in (None, "") and not _ipv4(item):
                problems.append(Problem(line, _("'{dns}' is not an IPv4 address").format(
                    dns=safetext.shown(str(item)))))
        return None
    prefix = values.get("prefix")
    text = ip if "/" in ip else f"{ip}/{prefix}" if prefix is not None else ip
    try:
        address = ipaddress.IPv4Interface(text)
    except ValueError:
        problems.append(Problem(line, _("'{ip}' is not an IPv4 address with its prefix "
                                        "(ip: 10.0.12.101, prefix: 24, or dhcp)").format(ip=ip)))
        return None
    if "/" not in text:
        problems.append(Problem(line, _("{ip}: give its prefix (prefix: 24)").format(ip=ip)))
        return None
    net = address.network
    if address.ip in (net.network_address, net.broadcast_address) and net.prefixlen < 31:
        problems.append(Problem(line, _("{ip} is the network's own or broadcast address, not "
                                        "a PC's").format(ip=address.ip)))
    gateway = None
    if values.get("gateway"):
        try:
            gateway = ipaddress.IPv4Address(str(values["gateway"]).strip())
        except ValueError:
            problems.append(Problem(line, _("'{gw}' is not an IPv4 address").format(
                gw=values["gateway"])))
        else:
            if gateway not in net:
                problems.append(Problem(line, _("the gateway {gw} is outside {net}").format(
                    gw=gateway, net=net)))
            elif gateway == address.ip:
                problems.append(Problem(line, _("the gateway {gw} is the PC's own address")
                                        .format(gw=gateway)))
    dns = []
    for item in _dns_values(values):
        try:
            dns.append(ipaddress.IPv4Address(str(item).strip()))
        except ValueError:
            problems.append(Problem(line, _("'{dns}' is not an IPv4 address").format(dns=item)))
    return Network(address, gateway, tuple(dns))


def _shapes(line: int, values: dict[str, Any], problems: list[Problem]) -> bool:
    """Every value one short line of text (dns: a list of them), nothing a terminal, a
    script or an XML file would read as something else."""
    good = True
    for key, value in values.items():
        items = value if key == "dns" and isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, (dict, list, set, tuple, bytes)):
                problems.append(Problem(line, _("{field} must be one value").format(
                    field=safetext.shown(key, 32))))
                good = False
            elif len(str(item)) > MAX_FIELD:
                problems.append(Problem(line, _("{field} is longer than {n} characters").format(
                    field=safetext.shown(key, 32), n=MAX_FIELD)))
                good = False
            elif safetext.has_control(str(item)):
                problems.append(Problem(line, _("{field} holds control characters").format(
                    field=safetext.shown(key, 32))))
                good = False
    return good


def _dns_values(values: dict[str, Any]) -> list[Any]:
    dns_values = values.get("dns") or []
    if isinstance(dns_values, str):
        return dns_values.split()
    return list(dns_values) if isinstance(dns_values, list) else [dns_values]


def _ipv4(value: object) -> bool:
    try:
        ipaddress.IPv4Address(str(value).strip())
    except ValueError:
        return False
    return True


def is_ou(text: str) -> bool:
    """An Active Directory distinguished name made of OU=, CN= and DC= parts, whose values hold
    none of the characters a DN must escape (so it is written as it is, everywhere)."""
    if len(text) > 512:
        return False
    parts = text.split(",")
    return all(OU_PART.fullmatch(part.strip()) for part in parts)


def _client(line: int, values: dict[str, Any], problems: list[Problem]) -> Client | None:
    before = len(problems)
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        problems.append(Problem(line, _("unknown field: {names}").format(
            names=safetext.shown(", ".join(unknown)))))
    if not _shapes(line, {k: v for k, v in values.items() if k in FIELDS}, problems):
        return None
    mac = normalise_mac(str(values.get("mac", "")))
    hostname = str(values.get("hostname", "")).strip()
    if not MAC.match(mac):
        problems.append(Problem(line, _("'{mac}' is not a MAC address (52:54:00:12:00:01)")
                                .format(mac=values.get("mac", ""))))
    if not hostname:
        problems.append(Problem(line, _("no hostname")))
    elif not HOSTNAME.match(hostname) or hostname.isdigit():
        problems.append(Problem(line, _("'{name}' is not a name Windows accepts: 1 to 15 "
                                        "letters, digits or hyphens, not only digits, no hyphen "
                                        "at either end").format(name=hostname)))
    network = _network(values, line, problems)
    key = str(values.get("product_key") or "").strip().upper() or None
    if key is not None and not PRODUCT_KEY.match(key):
        problems.append(Problem(line, _("'{key}' is not a product key "
                                        "(XXXXX-XXXXX-XXXXX-XXXXX-XXXXX)").format(key=key)))
    domain = str(values.get("domain") or "").strip() or None
    workgroup = str(values.get("workgroup") or "").strip() or None
    if domain and workgroup:
        problems.append(Problem(line, _("a PC joins a domain or a workgroup, not both")))
    if domain is not None and not DOMAIN.match(domain):
        problems.append(Problem(line, _("'{domain}' is not a domain name (college.local)")
                                .format(domain=domain)))
    join_user = str(values.get("join_user") or "").strip() or None
    if domain is not None and join_user is None:
        problems.append(Problem(line, _("joining {domain} needs join_user (the account allowed "
                                        "to join PCs)").format(domain=domain)))
    if join_user is not None and not ACCOUNT.fullmatch(join_user):
        problems.append(Problem(line, _("'{name}' is not an account name (jdupont, "
                                        "COLLEGE\\jdupont or jdupont@college.local)").format(
            name=safetext.shown(join_user))))
    ou = str(values.get("ou") or "").strip() or None
    if ou is not None and not is_ou(ou):
        problems.append(Problem(line, _("'{ou}' is not an organisational unit "
                                        "(OU=Salle12,DC=college,DC=local)").format(
            ou=safetext.shown(ou))))
    if ou is not None and domain is None:
        problems.append(Problem(line, _("an organisational unit (ou) needs a domain")))
    if workgroup is not None and not WORKGROUP.match(workgroup):
        problems.append(Problem(line, _("'{name}' is not a workgroup name (15 characters at "
                                        "most)").format(name=workgroup)))
    if len(problems) > before:
        return None
    return Client(line, mac, hostname, network, key, domain, ou, join_user, workgroup)


def _keys(values: dict[str, Any]) -> list[tuple[str, str, str]]:
    """What must be unique in a room, read from a line even when other fields are wrong:
    (kind, key, words)."""
    keys = []
    mac = normalise_mac(str(values.get("mac", "")))
    if MAC.match(mac):
        keys.append(("mac", mac, _("MAC address {value}").format(value=mac)))
    hostname = str(values.get("hostname", "")).strip()
    if hostname:
        keys.append(("name", hostname.upper(), _("hostname {value}").format(value=hostname)))
    ip = str(values.get("ip", "dhcp")).strip().split("/")[0]
    try:
        keys.append(("ip", str(ipaddress.IPv4Address(ip)), _("address {value}").format(value=ip)))
    except ValueError:
        pass
    return keys


def _duplicates(rows: Iterable[tuple[int, dict[str, Any]]], problems: list[Problem]) -> None:
    """A MAC, a hostname (Windows ignores case) or an address given to two PCs."""
    seen: dict[tuple[str, str], int] = {}
    for line, values in rows:
        for kind, key, what in _keys(values):
            other = seen.setdefault((kind, key), line)
            if other != line:
                problems.append(Problem(line, _("{what} is already on line {other}").format(
                    what=what, other=other)))


def parse(text: str, path: str = "-") -> tuple[ClientsFile, list[Problem]]:
    """Every client that is right, and every problem (line order)."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        return ClientsFile(path), [Problem(1, _("the file is larger than {size} (a room's file "
                                               "is a few kB)").format(size="1 MB"))]
    if "\x00" in text:
        return ClientsFile(path), [Problem(1, _("not a text file"))]
    is_csv = path.lower().endswith(".csv") or (
        not path.lower().endswith((".yaml", ".yml")) and text.lstrip().lower().startswith("mac"))
    rows, problems = (_csv_rows if is_csv else _yaml_rows)(text)
    clients = [c for line, values in rows if (c := _client(line, values, problems)) is not None]
    _duplicates(rows, problems)
    if not rows and not problems:
        problems.append(Problem(1, _("no client in the file")))
    problems.sort(key=lambda p: p.line)
    return ClientsFile(path, clients), problems


def read_text(path: Path) -> tuple[str, list[str]]:
    """The clients file's text and what the person should know about how it was read: UTF-8
    (with or without BOM), else Windows-1252 (a spreadsheet's export on a French Windows),
    never more than MAX_FILE_BYTES."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise UsageError(_("The clients file {path} cannot be read: {why}").format(
            path=path, why=os_reason(exc)), _("Give the room's clients file (YAML or CSV).")) \
            from exc
    if len(raw) > MAX_FILE_BYTES:
        raise UsageError(_("The clients file {path} is larger than {size}.").format(
            path=path, size="1 MB"), _("A room's clients file is a few kB: give the right "
                                       "file (YAML or CSV)."))
    if b"\x00" in raw:
        raise UsageError(_("The clients file {path} is not a text file.").format(path=path),
                         _("Give the room's clients file (YAML or CSV)."))
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise UsageError(_("The clients file {path} is neither UTF-8 nor Windows-1252 "
                           "text.").format(path=path),
                         _("Save it as CSV UTF-8 from the spreadsheet.")) from exc
    return text, [_("{path} is not UTF-8: read as Windows-1252 (check accented "
                    "letters).").format(path=path)]


def load(path: Path) -> ClientsFile:
    """The clients file, or UsageError listing every bad line (nothing is written before)."""
    text, warnings = read_text(path)
    clients, problems = parse(text, str(path))
    clients.warnings = warnings
    clients.text = text
    if problems:
        shown_problems = problems[:MAX_SHOWN]
        more = len(problems) - len(shown_problems)
        raise UsageError(
            ngettext("The clients file {path} has {n} problem:",
                     "The clients file {path} has {n} problems:", len(problems)).format(
                path=path, n=len(problems))
            + "\n" + "\n".join(f"  {p}" for p in shown_problems)
            + ("\n  " + _("… and {n} more").format(n=more) if more else ""),
            _("Fix these lines; nothing was written to any disk."))
    return clients


def template_from_report(report: dict[str, Any], prefix: str = "PC") -> str:
    """A clients file pre-filled with the MACs a deployment saw (its JSON report), each with a
    name to change and DHCP: the technician edits it, then deploys or personalises with it."""
    macs = []
    for item in report.get("clients", []):
        mac = normalise_mac(str(item.get("mac", "")))
        if MAC.match(mac) and mac not in macs:
            macs.append(mac)
    if not macs:
        raise UsageError(_("The report names no client."),
                         _("Give the JSON report of a deployment (NAME/logs/deploy-*.json)."))
    entries = [{"mac": mac, "hostname": f"{prefix}{n:02d}", "ip": "dhcp"}
               for n, mac in enumerate(macs, 1)]
    head = ("# OSCAR_déploie clients file, from the deployment {session} of {backup}.\n"
            "# Give each PC its name, and its address (ip: 10.0.12.101 with prefix, gateway,\n"
            "# dns) or dhcp; a licence key, a domain (with join_user) or a workgroup.\n"
            "# See docs/personalise.md.\n").format(session=report.get("session", "?"),
                                                  backup=report.get("backup", "?"))
    body = yaml.safe_dump({"defaults": {"workgroup": "WORKGROUP"}, "clients": entries},
                          sort_keys=False, default_flow_style=None, allow_unicode=True)
    return head + body
