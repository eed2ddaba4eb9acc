"""Fitting a saved partition table onto a disk of another size or sector size (pure).

A room is never uniform: the saved layout is scaled onto the target, either proportionally or
by giving all the difference to the last data partition. Partitions whose content cannot be
resized (the OSCAR partition unless asked, EFI, BIOS boot, Microsoft reserved, filesystems
OSCAR cannot resize) keep their size; the others never go below what their data needs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from oscar.core.errors import TargetRefused
from oscar.core.i18n import _
from oscar.disks.devices import human_size
from oscar.engine.ptable import GPT_BACKUP_SECTORS, GPT_PRIMARY_SECTORS, SfEntry, SfTable

MIB = 1 << 20
ALIGN = MIB
LAYOUTS = ("proportional", "grow-last", "keep")
# Partition types whose size a system relies on, never scaled.
FIXED_TYPES = {
    "c12a7328-f81f-11d2-ba4b-00a0c93ec93b",  # EFI system
    "21686148-6449-6e6f-744e-656564454649",  # BIOS boot
    "e3c9e316-0b5c-4db8-817d-f92df00215ae",  # Microsoft reserved
    "de94bba4-06d1-4d40-a16a-bfd50179d6ac",  # Windows recovery
    "ef", "27",  # EFI, Windows recovery (MBR)
}
EXTENDED_TYPES = {"5", "f", "85"}


@dataclass(frozen=True)
class PartNeed:
    """What a partition's content allows: its minimum, and whether its size may change."""

    number: int
    minimum: int  # bytes
    resizable: bool
    data: bool  # a data partition (the one "grow-last" grows is the last of these)


@dataclass(frozen=True)
class Change:
    number: int
    old_size: int  # bytes
    new_size: int
    new_start: int


@dataclass
class Fitted:
    table: SfTable
    changes: list[Change]
    layout: str
    same: bool  # the saved table is written as it was
    kept_starts: list[int] = dataclasses.field(default_factory=list)  # numbers, see fit()

    def change(self, number: int) -> Change | None:
        return next((c for c in self.changes if c.number == number), None)


def is_fixed_type(entry: SfEntry) -> bool:
    return entry.fields.get("type", "").lower() in FIXED_TYPES


def usable_end(disk_bytes: int, sector: int, label: str) -> int:
    """Where partitions must end: before GPT's backup copy at the end of the disk."""
    backup = GPT_BACKUP_SECTORS * sector if label == "gpt" else 0
    return disk_bytes - backup


def _align_up(value: int) -> int:
    return -(-value // ALIGN) * ALIGN


def _align_down(value: int) -> int:
    return value // ALIGN * ALIGN


def fit(table: SfTable, *, source_bytes: int | None, disk_bytes: int, sector: int,
        needs: dict[int, PartNeed], layout: str, keep_start: frozenset[int] = frozenset()
        ) -> Fitted:
    """The table to write on a disk of ``disk_bytes`` with ``sector``-byte sectors.

    ``keep_start``: partitions that must not move on an MBR disk (Windows' boot configuration
    names its partitions there by disk signature and byte offset: a Windows partition that
    moves no longer starts, 0xc000000e). They keep their start and may only grow or shrink at
    their end; the partitions before the last of them keep their place and size; those after
    it are fitted as usual. GPT disks name partitions by GUID, which OSCAR keeps."""
    old_sector = table.sector_size
    entries = sorted(table.entries, key=lambda e: e.start)
    end_limit = usable_end(disk_bytes, sector, table.label)
    as_saved = _as_saved(table, entries, source_bytes, disk_bytes, sector, layout, end_limit)
    if as_saved is not None:
        return as_saved
    _check_starts(entries, old_sector, sector)
    sizes = {e.number: e.size * old_sector for e in entries}
    gaps = []
    previous_end = entries[0].start * old_sector if entries else 0
    for e in entries:
        gaps.append(max(0, e.start * old_sector - previous_end))
        previous_end = (e.start + e.size) * old_sector
    first_start = entries[0].start * old_sector if entries else MIB
    if table.label == "gpt":
        first_start = max(first_start, GPT_PRIMARY_SECTORS * sector)
    resizable = [e.number for e in entries if _resizable(e, needs)]
    if layout == "keep" and sector == old_sector:
        resizable = []
    pinned = [e for e in entries if e.number in keep_start] if table.label != "gpt" else []
    frozen: set[int] = set()
    if pinned:
        frozen = {e.number for e in entries if e.start < pinned[-1].start}
        resizable = [n for n in resizable if n not in frozen]
    fixed_total = sum(sizes[n] for n in sizes if n not in resizable)
    # every moved partition may lose up to one alignment unit at its start
    room = end_limit - first_start - sum(gaps[1:]) - fixed_total - ALIGN * len(entries)
    end_bytes = max((e.start + e.size for e in entries), default=0) * old_sector
    if room < sum(sizes[n] for n in resizable) and end_bytes <= end_limit \
            and sector == old_sector:
        return Fitted(table, [], layout, same=True)  # a layout that fits is never shrunk
    new = _new_sizes(sizes, resizable, needs, room, layout)
    out, changes, position = _place(entries, gaps, sizes, new, frozen | {e.number for e in pinned},
                                    first_start, old_sector, sector)
    if position > end_limit:
        raise _too_small(entries, sizes, needs, resizable, disk_bytes, end_limit, position)
    fitted = SfTable(_converted_header(table, sector), sorted(out, key=lambda e: e.number))
    # the first partition keeps its start anyway: only the others are worth saying
    return Fitted(fitted, changes, layout, same=False,
                  kept_starts=sorted(e.number for e in pinned if e is not entries[0]))


def _as_saved(table: SfTable, entries: list[SfEntry], source_bytes: int | None, disk_bytes: int,
              sector: int, layout: str, end_limit: int) -> Fitted | None:
    """The saved table itself when nothing needs to move; a refusal for what OSCAR does not
    move (an extended partition beyond the disk); None when the table must be fitted."""
    old_sector = table.sector_size
    same_geometry = sector == old_sector and source_bytes == disk_bytes
    end_bytes = max((e.start + e.size for e in entries), default=0) * old_sector
    if same_geometry or (layout == "keep" and sector == old_sector and end_bytes <= end_limit):
        return Fitted(table, [], layout, same=True)
    if source_bytes is None and sector == old_sector and end_bytes <= end_limit:
        # nothing says how big the saved disk was: a disk that holds the table gets it as is
        return Fitted(table, [], layout, same=True)
    if any(e.fields.get("type", "").lower() in EXTENDED_TYPES for e in entries) \
            and table.label != "gpt":
        if sector == old_sector and end_bytes <= end_limit:
            return Fitted(table, [], "keep", same=True)
        raise TargetRefused(
            _("The saved table has an extended partition: OSCAR moves only primary and GPT "
              "partitions, and it ends at {need}, beyond this disk ({have}).").format(
                need=human_size(end_bytes), have=human_size(end_limit)),
            _("Restore onto a disk at least as big as the saved one."))
    return None


def _check_starts(entries: list[SfEntry], old_sector: int, sector: int) -> None:
    for e in entries:
        if e.start * old_sector % sector:
            raise TargetRefused(
                _("Partition {n} starts at byte {start}, not on a {sector}-byte sector of the "
                  "target disk.").format(n=e.number, start=e.start * old_sector, sector=sector),
                _("Restore onto a disk with {old}-byte sectors.").format(old=old_sector))


def _new_sizes(sizes: dict[int, int], resizable: list[int], needs: dict[int, PartNeed],
               room: int, layout: str) -> dict[int, int]:
    """Each partition's new size: grow-last gives the difference to the last data partition,
    proportional shares the room; none below its data."""
    minimum = {n: _align_up(needs[n].minimum) if n in needs else 0 for n in resizable}
    new = dict(sizes)
    grow_total = sum(sizes[n] for n in resizable)
    if resizable and room >= grow_total and layout == "grow-last":
        data = [n for n in resizable if needs[n].data] or resizable
        new[data[-1]] = sizes[data[-1]] + (room - grow_total)
    elif resizable:
        new.update(_share(sizes, resizable, minimum, room))
    for n in resizable:
        new[n] = max(_align_down(new[n]), minimum[n])
    return new


def _place(entries: list[SfEntry], gaps: list[int], sizes: dict[int, int], new: dict[int, int],
           anchored: set[int], first_start: int, old_sector: int, sector: int
           ) -> tuple[list[SfEntry], list[Change], int]:
    """The partitions laid one after the other (gaps kept, 1 MiB aligned; the first and the
    anchored ones where they were): the entries, what changed, and where the last one ends."""
    changes: list[Change] = []
    out: list[SfEntry] = []
    position = first_start
    for e, gap in zip(entries, gaps, strict=True):
        if not out or e.number in anchored:
            start = e.start * old_sector
        else:
            start = _align_up(position + gap)
        position = start + new[e.number]
        out.append(SfEntry(e.number, start // sector, -(-new[e.number] // sector),
                           dict(e.fields)))
        if new[e.number] != sizes[e.number] or start != e.start * old_sector:
            changes.append(Change(e.number, sizes[e.number], new[e.number], start))
    return out, changes, position


def _converted_header(table: SfTable, sector: int) -> dict[str, str]:
    """The saved header for the target: its own size and sectors (sfdisk works out the rest)."""
    header = dict(table.header)
    header.pop("last-lba", None)
    header.pop("device", None)
    if "first-lba" in header:
        header["first-lba"] = str(int(header["first-lba"]) * table.sector_size // sector)
    if "sector-size" in header or sector != 512:
        header["sector-size"] = str(sector)
    return header


def _resizable(entry: SfEntry, needs: dict[int, PartNeed]) -> bool:
    need = needs.get(entry.number)
    return need is not None and need.resizable and not is_fixed_type(entry)


def _share(sizes: dict[int, int], pool: list[int], minimum: dict[int, int],
           room: int) -> dict[int, int]:
    """Scale the pool's sizes to fill ``room``, none below its minimum (water-filling)."""
    result: dict[int, int] = {}
    free = list(pool)
    left = room
    while free:
        total = sum(sizes[n] for n in free)
        factor = left / total if total else 0
        low = [n for n in free if sizes[n] * factor < minimum[n]]
        if not low:
            for n in free:
                result[n] = int(sizes[n] * factor)
            return result
        for n in low:
            result[n] = minimum[n]
            left -= minimum[n]
            free.remove(n)
    return result


def _too_small(entries: list[SfEntry], sizes: dict[int, int], needs: dict[int, PartNeed],
               resizable: list[int], disk_bytes: int, end_limit: int,
               position: int) -> TargetRefused:
    parts = []
    for e in entries:
        if e.number in resizable:
            parts.append(_("{n}: {need} of data").format(
                n=e.number, need=human_size(needs[e.number].minimum)))
        else:
            parts.append(_("{n}: {size}, kept").format(n=e.number, size=human_size(sizes[e.number])))
    return TargetRefused(
        _("The disk is too small: {have}, the partitions need at least {need} ({parts}).").format(
            have=human_size(disk_bytes), need=human_size(position + disk_bytes - end_limit),
            parts="; ".join(parts)),
        _("Choose a bigger disk, restore only some partitions (--parts), or let the OSCAR "
          "partition shrink (--resize-oscar)."))


def describe(fitted: Fitted, labels: dict[int, str]) -> list[str]:
    """The new layout, one line per partition that changes (for the plan)."""
    names = {"proportional": _("scaled proportionally"),
             "grow-last": _("the last data partition takes the difference"),
             "keep": _("partitions kept as saved")}
    lines = [_("New layout ({how}):").format(how=names.get(fitted.layout, fitted.layout))]
    for change in fitted.changes:
        lines.append(_("  partition {n} {label}: {old} -> {new}").format(
            n=change.number, label=labels.get(change.number, ""),
            old=human_size(change.old_size), new=human_size(change.new_size)))
    if fitted.kept_starts:
        lines.append(_("  partitions {numbers} keep their start (Windows finds them by their "
                       "place on an MBR disk): only their end moves").format(
            numbers=", ".join(str(n) for n in fitted.kept_starts)))
    return lines


def with_size(table: SfTable, number: int, size_bytes: int, *,
              drop_after: bool) -> SfTable:
    """``table`` with partition ``number`` at ``size_bytes`` (and, with ``drop_after``, without
    the partitions that start after it): the temporary table a block image is restored into
    at its saved size before its filesystem is shrunk."""
    sector = table.sector_size
    target = next(e for e in table.entries if e.number == number)
    kept = []
    for e in table.entries:
        if e.number == number:
            kept.append(dataclasses.replace(e, size=-(-size_bytes // sector)))
        elif not (drop_after and e.start > target.start):
            kept.append(e)
    return SfTable(dict(table.header), kept)
