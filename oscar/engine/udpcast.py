"""udp-sender / udp-receiver argv (udpcast 20120424 on Debian 12). One session carries the
whole deployment (oscar.deploy.stream), so no client can fall one stream behind."""

from __future__ import annotations

import re

# A receiver that misses this many acknowledgement requests is dropped and the room goes on
# (udpcast's default, 200, stalls the room for minutes behind a dead PC; each request waits
# about 1 s; 10 also dropped healthy receivers busy writing their disk on 2 cores).
RETRIES_UNTIL_DROP = 30


def sender_argv(interface: str, portbase: int, min_receivers: int, max_wait: int,
                *, max_bitrate: str | None = None) -> list[str]:
    argv = ["udp-sender", "--nokbd", "--interface", interface, "--portbase", str(portbase),
            "--min-receivers", str(max(1, min_receivers)), "--max-wait", str(max_wait),
            "--retries-until-drop", str(RETRIES_UNTIL_DROP), "--no-progress"]
    if max_bitrate:
        argv += ["--max-bitrate", max_bitrate]
    return argv


def receiver_argv(interface: str, portbase: int, start_timeout: int,
                  receive_timeout: int) -> list[str]:
    # --receive-timeout: a sender that vanished mid-session ends the receiver instead of
    # leaving it waiting forever; --start-timeout: likewise before the session starts.
    return ["udp-receiver", "--nokbd", "--interface", interface, "--portbase", str(portbase),
            "--start-timeout", str(start_timeout), "--receive-timeout", str(receive_timeout),
            "--no-progress"]


CONNECTION = re.compile(r"New connection from (\d+\.\d+\.\d+\.\d+)\s+\(#(\d+)\)")
DROPPED = re.compile(r"Dropping client #(\d+)")


def connection(line: str) -> tuple[str, int] | None:
    """(address, receiver number) of udp-sender's "New connection from A  (#N) ..."."""
    found = CONNECTION.search(line)
    return (found.group(1), int(found.group(2))) if found else None


def dropped_number(line: str) -> int | None:
    """The receiver udp-sender gave up on: "Dropping client #N because of timeout"."""
    found = DROPPED.search(line)
    return int(found.group(1)) if found else None

