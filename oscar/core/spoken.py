"""Dates and durations as a person says them (the teacher's restaure screen): « mercredi
2 décembre à 5 h 04 », « environ 6 minutes », never 2026-12-02T05:04 or 0:06:12."""

from __future__ import annotations

import datetime

from oscar.core.i18n import _, ngettext


def _weekday(number: int) -> str:
    return (_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"),
            _("Saturday"), _("Sunday"))[number]


def _month(number: int) -> str:
    return (_("January"), _("February"), _("March"), _("April"), _("May"), _("June"),
            _("July"), _("August"), _("September"), _("October"), _("November"),
            _("December"))[number - 1]


def date_in_words(moment: datetime.datetime) -> str:
    return _("{weekday} {day} {month} {year} at {hour}:{minute}").format(
        weekday=_weekday(moment.weekday()), day=moment.day, month=_month(moment.month),
        year=moment.year, hour=moment.hour, minute=f"{moment.minute:02d}")


def parse_created(text: str) -> datetime.datetime | None:
    """A manifest's ``created`` (ISO 8601); None when it is not one."""
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        return None


def about_duration(seconds: float) -> str:
    """Rounded as a person would: « moins d'une minute », « environ 6 minutes »,
    « environ 1 h 20 »."""
    if seconds < 60:
        return _("less than a minute")
    minutes = round(seconds / 60)
    if minutes < 60:
        return ngettext("about {n} minute", "about {n} minutes", minutes).format(n=minutes)
    return _("about {hours} h {minutes}").format(hours=minutes // 60,
                                                 minutes=f"{minutes % 60:02d}")
