"""The room as a table (the sender's live view, the TUI's Déploiement screen) and the final
report written into the store (Markdown and JSON). Pure: no I/O."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from oscar.core.i18n import _
from oscar.net.deploy.room import NO_LINE, Client

MB = 1_000_000
ERROR_WIDTH = 78 - 59  # what is left of 78 columns (the screen's frame takes 2) for the error


@dataclass
class Report:
    session: str
    backup: str
    procedure: str
    mode: str
    started: str
    ended: str = ""
    sent_bytes: int = 0
    clients: list[Client] = field(default_factory=list)
    personalising: bool = False  # a clients file was sent with the backup

    @property
    def succeeded(self) -> int:
        return sum(1 for c in self.clients if c.state == "done")

    def to_dict(self) -> dict[str, Any]:
        return {"session": self.session, "backup": self.backup, "procedure": self.procedure,
                "mode": self.mode, "started": self.started, "ended": self.ended,
                "sent_bytes": self.sent_bytes, "succeeded": self.succeeded,
                "personalising": self.personalising,
                "clients": [_client_json(c) for c in self.clients]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def to_markdown(self) -> str:
        # the words are translated outside the f-strings: xgettext does not read into those
        title, session, started, ended = _("Deployment"), _("session"), _("started"), _("ended")
        done, personalised = _("clients done"), _("personalised")
        lines = [f"# {title} {self.backup} — {self.procedure} ({self.mode})", "",
                 "- " + labelled(session, self.session),
                 "- " + labelled(started, self.started), "- " + labelled(ended, self.ended),
                 "- " + labelled(done, f"{self.succeeded}/{len(self.clients)}")]
        if self.personalising:
            named = [c for c in self.clients if c.personalised and c.personalised != NO_LINE]
            missing = [c.mac for c in self.clients if c.personalised == NO_LINE]
            no_line = _("no line in the clients file")
            lines.append("- " + labelled(personalised, f"{len(named)}/{len(self.clients)}"))
            lines.append("- " + labelled(no_line, ", ".join(missing) or "-"))
        lines += ["", "| MAC | IP | " + " | ".join([
                      _("result"), _("mode"), _("duration"), _("MB/s"), _("attempts"),
                      _("personalised"), _("error")]) + " |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for c in self.clients:
            duration = f"{c.duration:.0f} s" if c.duration is not None else "-"
            error = (c.error or "-").replace("|", "/").replace("\n", " ")
            lines.append(f"| {c.mac} | {c.ip} | {state_label(c.state)} | {c.mode} | {duration} | "
                         f"{c.rate / MB:.1f} | {attempts_label(c)} | {personalised_label(c)} | "
                         f"{error} |")
        return "\n".join(lines) + "\n"


def attempts_label(c: Client) -> str:
    """The number of attempts, and how each earlier one ended."""
    earlier = []
    for number, attempt in enumerate(c.history, 1):
        if attempt.get("result") == "interrupted":
            what = _("interrupted while {state}").format(
                state=state_label(attempt.get("during", "")))
        else:
            what = state_label(attempt.get("result", ""))
        error = attempt.get("error", "").replace("|", "/").replace("\n", " ")
        earlier.append(_("{number}: {what}").format(number=number, what=what)
                       + (f" ({error[:60]})" if error else ""))
    return f"{c.attempts}" + (f" — {'; '.join(earlier)}" if earlier else "")


def personalised_label(c: Client) -> str:
    if c.personalised == NO_LINE:
        return _("no line")
    return c.personalised or "-"


def _client_json(c: Client) -> dict[str, Any]:
    return {"mac": c.mac, "ip": c.ip, "disk": c.disk, "disk_size": c.disk_size,
            "result": c.state, "mode": c.mode, "duration": c.duration,
            "mb_per_s": round(c.rate / MB, 2), "bytes": c.done_bytes, "attempts": c.attempts,
            "earlier": c.history, "error": c.error,
            "personalised": None if c.personalised in ("", NO_LINE) else c.personalised,
            "no_line": c.personalised == NO_LINE}


def labelled(label: str, value: str) -> str:
    """« label : valeur » in French, "label: value" in English."""
    return _("{label}: {value}").format(label=label, value=value)


def state_label(state: str) -> str:
    labels = {
        "registered": _("registered"), "waiting": _("waiting"), "receiving": _("receiving"),
        "writing": _("writing"), "verifying": _("verifying"),
        "personalising": _("personalising"), "done": _("done"),
        "failed": _("failed"), "refused": _("refused"),
    }
    return labels.get(state, state)


def render_table(clients: list[Client], phase: str = "") -> str:
    """80 columns: what the sender's console and the TUI show while the room works."""
    state_word, error_word = _("state"), _("error")
    head = f"{'MAC':<17} {'IP':<15} {state_word:<10} {'%':>5} {'MB/s':>6}  {error_word}"
    lines = [phase, head] if phase else [head]
    for c in clients:
        state = state_label(c.state)
        error = c.error[:ERROR_WIDTH] if c.error else ""
        lines.append(f"{c.mac:<17} {c.ip:<15} {state:<10} {c.percent:>5.1f} "
                     f"{c.rate / MB:>6.1f}  {error}")
    if not clients:
        lines.append(_("(no client yet)"))
    return "\n".join(lines)
