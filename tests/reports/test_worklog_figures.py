"""Work-log completion in the reports: the days owed, on time and signed off that the work-log
room answers (here a typed stand-in of its port) grouped by agent, team and month, against
the target. The work-log room's own answers are tested in tests/worklog."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter import kpi
from callcenter.agents.scope import EVERYTHING, Scope, Team
from callcenter.reports.ports import LogDay
from callcenter.reports.query import ReportRequest, Reports, TooFine
from callcenter.settings import ReportsSettings
from tests.reports.helpers import SHANGHAI

FIGURES = ("worklogs_due", "worklog_completion", "worklog_signed_share")
SETTINGS = ReportsSettings(worklog_completion_target=0.95)
ANN, BOB, CAROL = 1, 2, 3
TEAM = Team(
    id=10,
    name="north",
    label_zh="北组",
    label_en="North",
    queues=frozenset({"sales"}),
    members=frozenset({ANN, BOB}),
    leaders=frozenset(),
)


class Logs:
    """The work-log room's answer for November and December 2026."""

    def __init__(self) -> None:
        self.asked: list[tuple[tuple[int, ...] | None, date, date]] = []
        self.days = [
            # Ann: 20 days in November, 19 on time, 18 signed; 2 in December, both on time.
            *(LogDay(ANN, date(2026, 11, d), d != 7, d not in (7, 8)) for d in range(2, 22)),
            LogDay(ANN, date(2026, 12, 1), True, False),
            LogDay(ANN, date(2026, 12, 2), True, False),
            # Bob: 10 days in November, 8 on time, all signed.
            *(LogDay(BOB, date(2026, 11, d), d not in (3, 4), True) for d in range(2, 12)),
            # Carol is in no team.
            LogDay(CAROL, date(2026, 11, 2), False, False),
        ]

    async def log_days(
        self, user_ids: Sequence[int] | None, first: date, last: date
    ) -> Sequence[LogDay]:
        self.asked.append((tuple(user_ids) if user_ids is not None else None, first, last))
        return [
            d
            for d in self.days
            if first <= d.day <= last and (user_ids is None or d.user_id in user_ids)
        ]


async def _run(
    engine: AsyncEngine, logs: Logs, request: ReportRequest, scope: Scope = EVERYTHING
) -> dict[tuple[str, str], dict[str, float | None]]:
    result = await Reports(engine, SETTINGS, SHANGHAI, logs).run(request, scope, [TEAM])
    rows = {(r.period, r.key): r.values for r in result.rows}
    rows[("total", "")] = result.totals
    return rows


async def test_per_agent_and_in_total_with_the_target_marked(engine: AsyncEngine) -> None:
    logs = Logs()
    request = ReportRequest(FIGURES, "agent", "total", date(2026, 11, 1), date(2026, 11, 30))
    result = await Reports(engine, SETTINGS, SHANGHAI, logs).run(request, EVERYTHING, [TEAM])
    rows = {r.key: r for r in result.rows}
    assert rows[str(ANN)].values == {
        "worklogs_due": 20,
        "worklog_completion": 19 / 20,
        "worklog_signed_share": 18 / 20,
    }
    assert rows[str(BOB)].values["worklog_completion"] == 8 / 10
    # 95 % is the target: Ann's 95 % meets it, Bob's 80 % and Carol's 0 % do not.
    assert "worklog_completion" not in rows[str(ANN)].off_target
    assert "worklog_completion" in rows[str(BOB)].off_target
    assert rows[str(CAROL)].values["worklog_completion"] == 0.0
    assert result.totals["worklogs_due"] == 31
    assert result.totals["worklog_completion"] == kpi.worklog_completion(27, 31)
    assert logs.asked == [(None, date(2026, 11, 1), date(2026, 11, 30))]


async def test_by_team_and_month_for_the_scorecard(engine: AsyncEngine) -> None:
    rows = await _run(
        engine,
        Logs(),
        ReportRequest(FIGURES, "team", "month", date(2026, 11, 1), date(2026, 12, 31)),
    )
    assert rows[("2026-11-01", "north")]["worklogs_due"] == 30
    assert rows[("2026-11-01", "north")]["worklog_completion"] == 27 / 30
    assert rows[("2026-12-01", "north")]["worklog_signed_share"] == 0.0
    # Carol counts in the total, under no team.
    assert rows[("total", "")]["worklogs_due"] == 33


async def test_one_agent_and_a_scoped_team_leader(engine: AsyncEngine) -> None:
    logs = Logs()
    mine = await _run(
        engine,
        logs,
        ReportRequest(FIGURES, "none", "month", date(2026, 12, 1), date(2026, 12, 31), user_id=ANN),
    )
    assert mine[("2026-12-01", "")]["worklog_completion"] == 1.0
    leader = Scope(
        everything=False,
        team_ids=frozenset({TEAM.id}),
        queues=TEAM.queues,
        user_ids=TEAM.members,
    )
    await _run(
        engine,
        logs,
        ReportRequest(FIGURES, "agent", "total", date(2026, 11, 1), date(2026, 11, 30)),
        leader,
    )
    # A team leader's report asks only for the team's agents.
    assert logs.asked[-1][0] == (ANN, BOB)


async def test_nothing_owed_is_no_figure_and_sub_day_is_refused(engine: AsyncEngine) -> None:
    rows = await _run(
        engine,
        Logs(),
        ReportRequest(FIGURES, "none", "total", date(2027, 1, 1), date(2027, 1, 31)),
    )
    assert rows[("total", "")]["worklog_completion"] is None
    with pytest.raises(TooFine):
        await _run(
            engine,
            Logs(),
            ReportRequest(FIGURES, "none", "hour", date(2026, 11, 2), date(2026, 11, 2)),
        )


async def test_without_the_work_log_room_the_figures_are_empty(engine: AsyncEngine) -> None:
    request = ReportRequest(FIGURES, "agent", "total", date(2026, 11, 1), date(2026, 11, 30))
    result = await Reports(engine, SETTINGS, SHANGHAI).run(request, EVERYTHING, [TEAM])
    assert result.rows == []
    assert result.totals["worklog_completion"] is None
