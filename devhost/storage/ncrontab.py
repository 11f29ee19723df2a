"""Timer trigger schedules: NCRONTAB (6 fields, seconds first; or classic 5 fields) and TimeSpan.

Parsed here rather than with croniter because NCRONTAB differs from what croniter expresses: it ANDs
day-of-month with day-of-week when both are restricted (croniter's ``day_or`` covers that, but not the
rest), rejects ``7`` for Sunday, accepts any case-insensitive prefix of a month/day name (``Janu``,
``mon``), and has no ``?``/``L``/``W``/``#``. Sources: atifaziz/NCrontab ``CrontabSchedule.cs`` and
``CrontabFieldImpl.cs``; webjobs-sdk-extensions ``Timers/Scheduling/CronSchedule.cs``,
``TimerSchedule.Create`` (docs/host-behaviour.md#timer-trigger).

Schedules are evaluated in a time zone (the host's local zone, or ``WEBSITE_TIME_ZONE``/``TZ``); all
inputs and outputs of :meth:`Schedule.next_after` are timezone-aware, outputs in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from devhost.config import parse_timespan
from devhost.errors import ConfigError
from devhost.storage.errors import ScheduleError

_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_DAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
# (name, low, high, names or None) for second, minute, hour, day, month, day-of-week.
_FIELDS = [
    ("second", 0, 59, None),
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("day", 1, 31, None),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 6, _DAYS),
]
_SEARCH_DAYS = 366 * 8  # long enough for Feb 29 on a given weekday


class Schedule:
    """A parsed schedule. ``adjust_for_dst`` is what ``TimerRequest.schedule`` reports."""

    adjust_for_dst = True

    def next_after(self, after: datetime) -> datetime:
        """First occurrence strictly after ``after`` (aware), in UTC. Raises ScheduleError if none."""
        raise NotImplementedError

    def is_sub_minute(self, base: datetime) -> bool:
        """True when occurrences are less than a minute apart (then ``use_monitor`` is switched off)."""
        first = self.next_after(base)
        return (self.next_after(first) - first) < timedelta(minutes=1)


def _value(token: str, low: int, high: int, names: list[str] | None, field: str) -> int:
    if token.isdigit():
        n = int(token)
    elif names and token.isalpha():
        matches = [i for i, full in enumerate(names) if full.startswith(token.lower())]
        if not matches:
            raise ScheduleError(f"'{token}' is not a valid {field} name")
        n = matches[0] + low
    else:
        raise ScheduleError(f"'{token}' is not a valid {field} value")
    if not low <= n <= high:
        raise ScheduleError(f"{field} value {n} is outside {low}-{high}")
    return n


def _field(text: str, field: str, low: int, high: int, names: list[str] | None) -> frozenset[int]:
    out: set[int] = set()
    for item in text.split(","):
        rng, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ScheduleError(f"invalid step '{step_text}' in {field} field '{text}'")
            step = int(step_text)
        if rng == "*":
            start, end = low, high
        elif "-" in rng:
            a, _, b = rng.partition("-")
            start, end = _value(a, low, high, names, field), _value(b, low, high, names, field)
            if start > end:
                raise ScheduleError(f"range {rng} in {field} field runs backwards")
        else:
            start = _value(rng, low, high, names, field)
            end = high if slash else start  # "a/n" means a to max step n
        out.update(range(start, end + 1, step))
    return frozenset(out)


@dataclass(frozen=True)
class CronSchedule(Schedule):
    """An NCRONTAB schedule evaluated in ``zone`` (None → the machine's local zone)."""

    expression: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    zone: tzinfo | None = None

    @classmethod
    def parse(cls, expression: str, zone: tzinfo | None = None) -> CronSchedule:
        """Parse 6 fields (seconds first) or 5 fields (minute first; seconds = 0).

        Raises ScheduleError naming the bad field."""
        parts = expression.split()
        if len(parts) == 5:
            parts = ["0", *parts]
        if len(parts) != 6:
            raise ScheduleError(f"'{expression}' has {len(parts)} fields; NCRONTAB needs 5 or 6")
        sets = [
            _field(p, name, lo, hi, names) for p, (name, lo, hi, names) in zip(parts, _FIELDS, strict=True)
        ]
        sec, mins, hrs, days, months, dows = sets
        return cls(expression, sec, mins, hrs, days, months, dows, zone)

    def _to_local(self, when: datetime) -> datetime:
        return (when.astimezone(self.zone) if self.zone else when.astimezone()).replace(tzinfo=None)

    def _from_local(self, naive: datetime) -> datetime:
        return (naive.replace(tzinfo=self.zone) if self.zone else naive.astimezone()).astimezone(UTC)

    def _day_matches(self, d: date) -> bool:
        return d.month in self.months and d.day in self.days and (d.weekday() + 1) % 7 in self.weekdays

    def next_after(self, after: datetime) -> datetime:
        """The first occurrence strictly after ``after`` (aware), returned in UTC; evaluated in the schedule's
        time zone."""
        start = self._to_local(after).replace(microsecond=0) + timedelta(seconds=1)
        hours, minutes, seconds = sorted(self.hours), sorted(self.minutes), sorted(self.seconds)
        day = start.date()
        for _ in range(_SEARCH_DAYS):
            if self._day_matches(day):
                first = day == start.date()
                for h in hours:
                    if first and h < start.hour:
                        continue
                    for m in minutes:
                        if first and h == start.hour and m < start.minute:
                            continue
                        for s in seconds:
                            cand = datetime(day.year, day.month, day.day, h, m, s)
                            if cand >= start:
                                return self._from_local(cand)
            day += timedelta(days=1)
        raise ScheduleError(f"schedule '{self.expression}' never occurs")


@dataclass(frozen=True)
class IntervalSchedule(Schedule):
    """A TimeSpan schedule: a constant interval from the previous occurrence."""

    interval: timedelta
    adjust_for_dst = False

    def next_after(self, after: datetime) -> datetime:
        """``after`` plus the interval, in UTC."""
        return (after + self.interval).astimezone(UTC)


def parse_schedule(text: str, zone: tzinfo | None = None) -> Schedule:
    """NCRONTAB first, then TimeSpan (``hh:mm:ss`` / ``d.hh:mm:ss``), like ``TimerSchedule.Create``.

    Raises ScheduleError with the host's message when neither fits."""
    text = text.strip()
    if len(text.split()) > 1:
        try:
            return CronSchedule.parse(text, zone)
        except ScheduleError:
            if len(text.split()) in (5, 6):
                raise
    try:
        interval = parse_timespan(text)
    except ConfigError:
        interval = None
    if interval is None or interval <= timedelta(0):
        raise ScheduleError(
            f"The schedule expression '{text}' was not recognized as a valid cron expression "
            "or timespan string."
        )
    return IntervalSchedule(interval)
