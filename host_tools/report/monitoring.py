"""Remote-monitoring figures: per 30-day window, the distinct days with data and when each
session began, so a clinic can see whether a patient practised on, say, 16 of 30 days (the
threshold US remote-monitoring billing counts, CPT 99454: device data on at least 16 days of
a 30-day period). Days are the report's calendar days (`ReportData.tz`).

    windows = monitoring_windows(data)          # data: report.data.ReportData
    windows[0].days_with_data, windows[0].days, windows[0].session_starts
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

WINDOW_DAYS = 30


@dataclass(frozen=True)
class MonitoringWindow:
    first: date
    last: date  # the window's last day; the period's last for a window it cuts short
    days_with_data: int
    session_starts: list[datetime]  # aware, in the report's zone, oldest first
    estimated: int  # of them, starts the host estimated (the dowel had lost the date)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def complete(self) -> bool:
        return self.days == WINDOW_DAYS

    def as_json(self) -> dict:
        return {
            "window_start": self.first.isoformat(),
            "window_end": self.last.isoformat(),
            "days": self.days,
            "days_with_data": self.days_with_data,
            "sessions": len(self.session_starts),
            "session_starts": [t.isoformat(timespec="seconds") for t in self.session_starts],
            "estimated_starts": self.estimated,
        }


def monitoring_windows(data) -> list[MonitoringWindow]:
    """30-day windows from the period's first day to its last (the last window may be
    shorter); none when there is no period."""
    if data.start is None or data.end is None:
        return []
    out = []
    first = data.start
    while first <= data.end:
        last = min(first + timedelta(days=WINDOW_DAYS - 1), data.end)
        sessions = [s for s in data.sessions if s.day is not None and first <= s.day <= last]
        out.append(
            MonitoringWindow(
                first,
                last,
                len({s.day for s in sessions if s.reps}),
                [s.started.astimezone(data.tz) for s in sessions if s.started is not None],
                sum(1 for s in sessions if s.estimated),
            )
        )
        first = last + timedelta(days=1)
    return out
