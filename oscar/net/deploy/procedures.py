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
