"""Disks plugged or unplugged while the menu is open (pyudev).

With udevd running (the live system) events come from udev, after it has named the devices;
without it (this build machine, a minimal rescue shell) the kernel's own uevents are read.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pyudev

log = logging.getLogger("oscar.hotplug")
UDEV_CONTROL = Path("/run/udev/control")
INTERESTING = ("add", "remove", "change")


class BlockEvents:
    """A non-blocking source of block-device events, to watch with the UI's event loop."""

    def __init__(self) -> None:
        context = pyudev.Context()
        source = "udev" if UDEV_CONTROL.exists() else "kernel"
        monitor = pyudev.Monitor.from_netlink(context, source=source)
        monitor.filter_by("block")
        monitor.start()
        self.monitor: pyudev.Monitor | None = monitor
        log.info("watching block devices (%s events)", source)

    def fileno(self) -> int:
        assert self.monitor is not None
        return int(self.monitor.fileno())

    def drain(self) -> list[tuple[str, str]]:
        """Every pending event as (action, kernel name); never blocks."""
        events: list[tuple[str, str]] = []
        while self.monitor is not None:
            device = self.monitor.poll(timeout=0)
            if device is None:
                return events
            if device.action in INTERESTING:
                events.append((str(device.action), str(device.sys_name)))
        return events

    def close(self) -> None:
        """pyudev has no close(): libudev frees the socket with the last reference."""
        self.monitor = None
