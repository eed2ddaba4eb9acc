"""The seven deployment procedures of the seed, as data: what each sends and what each client
does with it. Pure: no I/O."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from oscar.backups import checksums, manifest
from oscar.backups.manifest import Manifest
from oscar.core.errors import UsageError
from oscar.core.i18n import _


@dataclass(frozen=True)
class Procedure:
    name: str
    with_table: bool  # the client writes the server's partition table first
    restore: bool  # the client's partitions get the backup's data
    keep_copy: bool  # the client keeps a verified copy on its own OSCAR partition
    format_only: bool = False  # partitions are formatted empty (table)
    whole_disk: bool = False  # the server's disk is saved first, then copied (disque)


PROCEDURES: dict[str, Procedure] = {p.name: p for p in (
    Procedure("restaure", with_table=False, restore=True, keep_copy=False),
    Procedure("simple", with_table=False, restore=True, keep_copy=True),
    Procedure("formate", with_table=True, restore=True, keep_copy=False),
    Procedure("complete", with_table=True, restore=True, keep_copy=True),
    Procedure("petite", with_table=False, restore=False, keep_copy=True),
    Procedure("table", with_table=True, restore=False, keep_copy=False, format_only=True),
    Procedure("disque", with_table=True, restore=True, keep_copy=False, whole_disk=True),
)}
ALIASES = {"complète": "complete"}  # the seed's spelling; menus and files use "complete"


def get(name: str) -> Procedure:
    normal = unicodedata.normalize("NFC", name)
    key = ALIASES.get(normal, normal)
    if key not in PROCEDURES:
        raise UsageError(_("'{name}' is not a deployment procedure.").format(name=name),
                         _("Procedures: {list}.").format(list=", ".join(
                             n if n != "complete" else "complète" for n in PROCEDURES)))
    return PROCEDURES[key]


def table_files(man: Manifest) -> list[str]:
    return list(man.table_files)


def image_files(man: Manifest) -> list[str]:
    """Images in the manifest's order: the order the client writes them in (Restorer)."""
    return [f for p in man.partitions if p.role == "data" for f in p.files]


def files_to_send(man: Manifest, proc: Procedure) -> list[str]:
    """The images the clients need, in the order they write them. The manifest, B2SUMS and
    the partition table files are small: they travel in the session's header, which every
    client checks before it says it is ready."""
    return image_files(man) if (proc.restore or proc.keep_copy) else []


def small_files(man: Manifest) -> list[str]:
    """What travels in the session header: the manifest, B2SUMS and every file that is not a
    partition image (partition table files, swap descriptions)."""
    images = set(image_files(man))
    return [manifest.FILE, checksums.FILE, *(f for f in man.all_files if f not in images)]


def erased(proc: Procedure) -> str:
    """What the procedure erases on each client, said before anything is sent."""
    if proc.whole_disk:
        return _("On each client, the whole disk is replaced by a copy of the server's disk.")
    if proc.with_table:
        return _("On each client, the partition table is rewritten: every partition is "
                 "erased, except the OSCAR partition.")
    if proc.restore:
        return _("On each client, the partitions of the backup are replaced; the other "
                 "partitions and the OSCAR partition are kept.")
    return _("Nothing is erased on the clients' systems: the backup is copied onto their "
             "OSCAR partitions only.")


def synopsis(proc: Procedure, display_name: str) -> str:
    """Step by step, what happens on the server and on each client (the seed's synoptiques)."""
    server = [_("The backup is checked (every checksum) before anything is sent.")]
    if proc.whole_disk:
        server.insert(0, _("The chosen disk of the server is saved first, as a backup."))
    server.append(_("The server waits for the clients, then sends: once to all together "
                    "(synchronous, multicast) or to each as it asks (asynchronous, HTTP)."))
    client = [_("The client starts from the network (PXE) into OSCAR and checks that the "
                "backup fits its disk; a client that does not fit is refused, untouched.")]
    if proc.with_table:
        client.append(_("It writes the server's partition table: every partition is erased, "
                        "except its OSCAR partition."))
    else:
        client.append(_("It keeps its partition table: it must already match the server's."))
    if proc.format_only:
        client.append(_("It formats each partition, empty."))
    elif proc.restore:
        client.append(_("It writes the backup onto its partitions, then checks them."))
    if proc.keep_copy:
        client.append(_("It keeps a verified copy of the backup on its OSCAR partition: "
                        "restaure works on it later, without the network."))
    client.append(_("It restarts, shuts down or waits, as chosen; the server's report lists "
                    "every client."))
    lines = [_("Procedure {name}").format(name=display_name), "", erased(proc), "",
             _("On the server:")]
    lines += [f"  {n}. {step}" for n, step in enumerate(server, 1)]
    lines += ["", _("On each client:")]
    lines += [f"  {n}. {step}" for n, step in enumerate(client, 1)]
    return "\n".join(lines)
