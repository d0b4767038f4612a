"""A policy pack's calendar: its time zone, its working week and its public holidays.

Instants stay in UTC everywhere in the domain; the calendar says which *local* day and month
an instant falls in. Service-credit periods (the months caps count in) are local months, and
a deadline the pack counts in business days skips weekends and holidays of the local
calendar. A pack that declares nothing keeps the old behaviour: UTC, calendar days.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import attrs

DEFAULT_TIME_ZONE = "UTC"
WEEKEND = frozenset({5, 6})
"""Saturday and Sunday (``date.weekday()``)."""


@functools.cache
def zone(name: str) -> tzinfo:
    """The IANA time zone ``name``; raises ``ZoneInfoNotFoundError`` (a ``KeyError``) if unknown."""
    return UTC if name == DEFAULT_TIME_ZONE else ZoneInfo(name)


@attrs.frozen
class Calendar:
    """Where a pack's days, months and business days are counted."""

    time_zone: str = DEFAULT_TIME_ZONE
    """An IANA name, such as ``Asia/Shanghai``."""
    holidays: frozenset[date] = frozenset()
    """Local dates that are not business days (besides the weekend)."""

    def local(self, moment: datetime) -> datetime:
        """``moment`` on the pack's local clock."""
        if moment.tzinfo is None:
            raise ValueError("naive datetimes are not allowed in the domain; give a timezone")
        return moment.astimezone(zone(self.time_zone))

    def period_of(self, moment: datetime) -> str:
        """The ledger period (local calendar month) ``moment`` falls in: ``"YYYY-MM"``."""
        local = self.local(moment)
        return f"{local.year:04d}-{local.month:02d}"

    def is_business_day(self, day: date) -> bool:
        """True for a local weekday that is not a holiday."""
        return day.weekday() not in WEEKEND and day not in self.holidays

    def add_days(self, start: datetime, days: int, *, business: bool = False) -> datetime:
        """``days`` days after ``start``: calendar days (exactly ``days`` x 24 hours), or
        business days, counted on local dates and kept at ``start``'s local time of day.
        """
        if not business:
            return start + timedelta(days=days)
        local = self.local(start)
        day, left = local.date(), days
        while left > 0:
            day += timedelta(days=1)
            if self.is_business_day(day):
                left -= 1
        naive = datetime.combine(day, local.time().replace(tzinfo=None))
        return naive.replace(tzinfo=zone(self.time_zone)).astimezone(UTC)


UTC_CALENDAR = Calendar()
"""The calendar of a pack that declares none."""
