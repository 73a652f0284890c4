"""What people read for a report's keys: agents' names, teams' and dispositions' labels,
hours and weekdays, in Chinese or English."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from callcenter.agents.scope import EVERYTHING, Scope, Team
from callcenter.auth.identity import User
from callcenter.reports.query import ReportResult
from callcenter.settings import Disposition

__all__ = ["FixedPeople", "ReportPeople", "key_labels"]

_WEEKDAYS_ZH = "一二三四五六日"
_WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_CATEGORIES = {
    "consultation": ("咨询", "Consultation"),
    "complaint": ("投诉", "Complaint"),
    "after-sales": ("售后", "After-sales"),
    "other": ("其他", "Other"),
}


class ReportPeople(Protocol):
    """Offered by the agents room: teams, the user's scope, the accounts."""

    def scope_of(self, user: User) -> Scope: ...

    def teams(self) -> Sequence[Team]: ...

    def active_users(self) -> Sequence[User]: ...


def key_labels(
    result: ReportResult,
    lang: str,
    people: ReportPeople,
    dispositions: Mapping[str, Disposition],
) -> dict[str, str]:
    """Key -> label for the keys of a report's rows (a key without a label is its own)."""
    zh = lang == "zh"
    dim = result.request.dimension
    keys = {row.key for row in result.rows if row.key}
    if dim in ("hour", "weekday"):
        keys = {k for k in keys if k.isdigit() and 0 <= int(k) <= 23}
    if dim == "agent":
        names = {str(u.id): u.display_name or u.username for u in people.active_users()}
        return {k: names.get(k, f"#{k}") for k in keys}
    if dim == "team":
        teams = {t.name: (t.label_zh if zh else t.label_en) or t.name for t in people.teams()}
        return {k: teams.get(k, k) for k in keys}
    if dim == "disposition":
        labels = {code: d.label_zh if zh else d.label_en for code, d in dispositions.items()}
        return {k: labels.get(k, k) for k in keys}
    if dim == "category":
        return {k: _CATEGORIES[k][0 if zh else 1] if k in _CATEGORIES else k for k in keys}
    if dim == "hour":
        return {k: f"{int(k):02d}:00" for k in keys}
    if dim == "weekday":
        return {
            k: f"周{_WEEKDAYS_ZH[int(k) - 1]}" if zh else _WEEKDAYS_EN[int(k) - 1]
            for k in keys
            if 1 <= int(k) <= 7
        }
    return {}


class FixedPeople:
    """Teams and accounts read once (the command line's reports: no agents room there)."""

    def __init__(self, teams: Sequence[Team], users: Sequence[User]) -> None:
        self._teams = list(teams)
        self._users = list(users)

    def scope_of(self, user: User) -> Scope:
        return EVERYTHING

    def teams(self) -> Sequence[Team]:
        return self._teams

    def active_users(self) -> Sequence[User]:
        return self._users
