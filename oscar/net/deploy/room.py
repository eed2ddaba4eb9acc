"""The clients of one deployment as the server sees them: registered, then their reports.
Thread-safe; the control server writes, the sender's loop and the views read. No I/O."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from oscar.core.i18n import _

FINAL = ("done", "failed", "refused")
NO_LINE = "-no-line-"  # the clients file has no line for this MAC: left as deployed
# A client reports at least every few seconds while it works; silence this long means it was
# stopped or cut off (the server then reports it failed, and the others go on).
LOST_AFTER = 20.0


@dataclass
class Client:
    mac: str
    ip: str
    disk: str = ""
    disk_size: int = 0
    hostname: str = ""
    state: str = "registered"
    mode: str = ""  # multicast or http (catch-up)
    percent: float = 0.0
    done_bytes: int = 0
    rate: float = 0.0  # bytes per second
    error: str = ""
    attempts: int = 1
    registered_at: float = field(default_factory=time.time)
    started_at: float | None = None
    ended_at: float | None = None
    last_seen: float = field(default_factory=time.time)
    # earlier attempts: {"result": done/failed/refused, or "interrupted" when the client came
    # back before it reported an end (killed, rebooted), "during": the state it was in,
    # "error": what it said}
    history: list[dict[str, str]] = field(default_factory=list)
    # OSCAR_déploie: "" (no clients file), the name it got, or NO_LINE
    personalised: str = ""

    @property
    def final(self) -> bool:
        return self.state in FINAL

    @property
    def duration(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.ended_at or time.time()) - self.started_at

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["duration"] = self.duration
        return data


class Room:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.changed = threading.Condition(self._lock)
        self.clients: dict[str, Client] = {}

    def register(self, mac: str, ip: str, mode: str, **info: Any) -> Client:
        with self._lock:
            old = self.clients.get(mac)
            client = Client(mac, ip, mode=mode, **info)
            if old is not None:
                client.attempts = old.attempts + 1
                client.history = [*old.history, {
                    "result": old.state if old.final else "interrupted", "during": old.state,
                    "error": old.error}]
            self.clients[mac] = client
            self.changed.notify_all()
            return client

    def report(self, mac: str, values: dict[str, Any]) -> bool:
        with self._lock:
            client = self.clients.get(mac)
            if client is None:
                return False
            now = time.time()
            client.last_seen = now
            state = values.get("state")
            if isinstance(state, str) and not client.final:
                if state in ("receiving", "writing", "verifying") and client.started_at is None:
                    client.started_at = now
                client.state = state
                if state in FINAL:
                    client.ended_at = now
            for key in ("percent", "rate"):
                if isinstance(values.get(key), (int, float)):
                    setattr(client, key, float(values[key]))
            if isinstance(values.get("done_bytes"), int):
                client.done_bytes = values["done_bytes"]
            if isinstance(values.get("error"), str) and values["error"]:
                client.error = values["error"][:500]
            if isinstance(values.get("personalised"), str) and values["personalised"]:
                client.personalised = values["personalised"][:64]
            self.changed.notify_all()
            return True

    def note(self, ip: str, text: str) -> None:
        """What the server learnt about a client at work (shown in its row's error column)."""
        with self._lock:
            for client in self.clients.values():
                if client.ip == ip and not client.final:
                    client.error = text[:500]
            self.changed.notify_all()

    def mark_lost(self, now: float | None = None) -> list[Client]:
        now = now or time.time()
        lost = []
        with self._lock:
            for client in self.clients.values():
                if not client.final and now - client.last_seen > LOST_AFTER:
                    client.state, client.ended_at = "failed", now
                    client.error = client.error or _("no news from the client (stopped or cut "
                                                     "off)")
                    lost.append(client)
            if lost:
                self.changed.notify_all()
        return lost

    def snapshot(self) -> list[Client]:
        with self._lock:
            return [Client(**{k: v for k, v in asdict(c).items()})
                    for c in sorted(self.clients.values(), key=lambda c: c.registered_at)]

    def count(self, *states: str) -> int:
        with self._lock:
            return sum(1 for c in self.clients.values() if c.state in states)

    def wait(self, timeout: float) -> None:
        with self._lock:
            self.changed.wait(timeout)
