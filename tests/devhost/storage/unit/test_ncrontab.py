"""NCRONTAB and TimeSpan schedules (pure; evaluated in UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from devhost.storage.errors import ScheduleError
from devhost.storage.ncrontab import CronSchedule, IntervalSchedule, parse_schedule

T0 = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)  # a Wednesday


def nxt(expr: str, after: datetime = T0, n: int = 1) -> list[datetime]:
    s = parse_schedule(expr, UTC)
    out, t = [], after
    for _ in range(n):
        t = s.next_after(t)
        out.append(t)
    return out


def test_six_fields_are_seconds_first() -> None:
    """`*/2 * * * * *` fires every two seconds, strictly after the base time."""
    assert [T0 + timedelta(seconds=2), T0 + timedelta(seconds=4)] == nxt("*/2 * * * * *", n=2)


def test_five_fields_are_classic_cron_with_seconds_zero() -> None:
    """`*/15 * * * *` fires on minute multiples of 15 at second 0."""
    assert [T0 + timedelta(minutes=15)] == nxt("*/15 * * * *")


def test_day_of_month_and_day_of_week_are_anded() -> None:
    """`0 0 0 13 * 5` is Friday the 13th only (NCRONTAB ANDs, Vixie cron would OR)."""
    assert [datetime(2024, 9, 13, tzinfo=UTC)] == nxt("0 0 0 13 * 5")


def test_names_are_case_insensitive_prefixes() -> None:
    """`Janu` and `mon` are accepted as January and Monday."""
    assert [datetime(2025, 1, 6, 9, 30, tzinfo=UTC)] == nxt("0 30 9 * Janu mon")


def test_a_slash_n_runs_from_a_to_the_maximum() -> None:
    """`5/20` in the seconds field means 5, 25, 45."""
    assert [T0 + timedelta(seconds=5), T0 + timedelta(seconds=25), T0 + timedelta(seconds=45)] == nxt(
        "5/20 * * * * *", n=3
    )


@pytest.mark.parametrize(
    "expr", ["0 0 0 * * 7", "0 0 0 * * ?", "60 * * * * *", "* * * * * * *", "0 0 0 31 2 *"]
)
def test_invalid_expressions_raise(expr: str) -> None:
    """Sunday as 7, `?`, out-of-range values, 7 fields and impossible dates are errors."""
    with pytest.raises(ScheduleError):
        nxt(expr)


def test_timespan_is_a_constant_interval() -> None:
    """`00:05:00` is every five minutes from the previous occurrence."""
    s = parse_schedule("00:05:00")
    assert isinstance(s, IntervalSchedule) and not s.adjust_for_dst
    assert T0 + timedelta(minutes=5) == s.next_after(T0)


def test_garbage_gets_the_hosts_message() -> None:
    """Neither cron nor TimeSpan: the host's 'was not recognized' message."""
    with pytest.raises(ScheduleError, match="was not recognized as a valid cron expression"):
        parse_schedule("every day")


def test_sub_minute_detection_switches_off_the_monitor() -> None:
    """Every 2 s is sub-minute, every 5 min is not."""
    assert parse_schedule("*/2 * * * * *", UTC).is_sub_minute(T0)
    assert not parse_schedule("0 */5 * * * *", UTC).is_sub_minute(T0)


def test_schedule_is_evaluated_in_its_zone() -> None:
    """`0 0 9 * * *` in Europe/Paris (UTC+2 in May) is 07:00 UTC."""
    from zoneinfo import ZoneInfo

    s = CronSchedule.parse("0 0 9 * * *", ZoneInfo("Europe/Paris"))
    assert datetime(2024, 5, 2, 7, 0, tzinfo=UTC) == s.next_after(T0)
