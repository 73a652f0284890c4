"""Every figure a report can show: its names in both languages, its unit, its target, and how
it comes from the summed roll-ups. Pure. The formulas are ``callcenter.kpi``'s, so a report and
the wallboard cannot disagree on one.

A figure is computed from `Sums`: the summed call measures (``rollup.MEASURES``), the seconds
per agent state and not-ready code, and the work-item counts of the same rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from callcenter import kpi
from callcenter.reports.rollup import MEASURES
from callcenter.settings import ReportsSettings

__all__ = ["FIGURES", "Figure", "Sums", "Target", "compute", "off_target", "targets"]

# "score": a mean of 1-5 survey scores.
Unit = Literal["count", "ratio", "seconds", "score"]
# Which roll-ups a figure needs: calls (per queue or per agent), agent states, work items,
# wrap-up dispositions.
Source = Literal["calls", "states", "work", "wrapups", "worklog"]


@dataclass
class Sums:
    calls: dict[str, float] = field(default_factory=lambda: dict.fromkeys(MEASURES, 0.0))
    # (state, code) -> seconds
    states: dict[tuple[str, str], float] = field(default_factory=dict)
    work: dict[str, int] = field(default_factory=dict)
    wrapped: int = 0
    # Daily work logs: "due", "on_time", "signed" (from the work-log room, per agent-day).
    logs: dict[str, int] = field(default_factory=dict)

    def add_calls(self, values: Mapping[str, float]) -> None:
        for name in MEASURES:
            value = float(values.get(name) or 0)
            if name == "wait_max":
                self.calls[name] = max(self.calls[name], value)
            else:
                self.calls[name] += value

    def add(self, other: Sums) -> None:
        self.add_calls(other.calls)
        for state, seconds in other.states.items():
            self.states[state] = self.states.get(state, 0.0) + seconds
        for name, count in other.work.items():
            self.work[name] = self.work.get(name, 0) + count
        for name, count in other.logs.items():
            self.logs[name] = self.logs.get(name, 0) + count
        self.wrapped += other.wrapped

    def state_seconds(self, *states: str) -> float:
        return sum(v for (s, _), v in self.states.items() if s in states)


@dataclass(frozen=True, slots=True)
class Target:
    """Where a figure should be: at least (``min``) or at most (``max``) the value."""

    side: Literal["min", "max"]
    value: float

    def missed(self, figure: float | None) -> bool:
        if figure is None:
            return False
        return figure < self.value if self.side == "min" else figure > self.value


@dataclass(frozen=True, slots=True)
class Figure:
    name: str
    label_zh: str
    label_en: str
    unit: Unit
    source: Source
    compute: Callable[[Sums], float | None]


def _i(s: Sums, name: str) -> int:
    return int(s.calls[name])


def _offered(s: Sums) -> int:
    return kpi.offered(
        _i(s, "answered"), _i(s, "abandoned"), _i(s, "timeouts"), _i(s, "short_abandons")
    )


def _handling(s: Sums) -> float:
    return s.state_seconds("on-call", "acw")


def _fig(
    name: str, zh: str, en: str, unit: Unit, source: Source, fn: Callable[[Sums], float | None]
) -> Figure:
    return Figure(name, zh, en, unit, source, fn)


def _calls_figures() -> list[Figure]:
    def count(name: str) -> Callable[[Sums], float | None]:
        return lambda s: _i(s, name)

    return [
        _fig("offered", "呼入量", "Offered", "count", "calls", _offered),
        _fig("answered", "接通量", "Answered", "count", "calls", count("answered")),
        _fig(
            "abandoned",
            "放弃量",
            "Abandoned",
            "count",
            "calls",
            lambda s: _i(s, "abandoned") - _i(s, "short_abandons"),
        ),
        _fig(
            "short_abandons",
            "短时放弃",
            "Short abandons",
            "count",
            "calls",
            count("short_abandons"),
        ),
        _fig("timeouts", "超时", "Timed out", "count", "calls", count("timeouts")),
        _fig("overflowed", "溢出", "Overflowed", "count", "calls", count("overflowed")),
        _fig("transferred", "转接", "Transferred", "count", "calls", count("transferred")),
        _fig(
            "answer_rate",
            "接通率",
            "Answer rate",
            "ratio",
            "calls",
            lambda s: kpi.answer_rate(
                _i(s, "answered"), _i(s, "abandoned"), _i(s, "timeouts"), _i(s, "short_abandons")
            ),
        ),
        _fig(
            "abandon_rate",
            "放弃率",
            "Abandon rate",
            "ratio",
            "calls",
            lambda s: kpi.abandon_rate(
                _i(s, "abandoned"), _i(s, "answered"), _i(s, "timeouts"), _i(s, "short_abandons")
            ),
        ),
        _fig(
            "service_level",
            "服务水平(按接通)",
            "Service level (answered)",
            "ratio",
            "calls",
            lambda s: kpi.service_level_of_answered(_i(s, "answered_within"), _i(s, "answered")),
        ),
        _fig(
            "service_level_offered",
            "服务水平(按呼入)",
            "Service level (offered)",
            "ratio",
            "calls",
            lambda s: kpi.service_level_of_offered(
                _i(s, "answered_within"),
                _i(s, "answered"),
                _i(s, "abandoned"),
                _i(s, "timeouts"),
                _i(s, "short_abandons"),
            ),
        ),
        _fig(
            "asa",
            "平均应答速度",
            "Average speed of answer",
            "seconds",
            "calls",
            lambda s: kpi.asa(s.calls["wait_answered_sum"], _i(s, "answered")),
        ),
        _fig(
            "abandon_wait",
            "放弃前平均等待",
            "Average wait before abandon",
            "seconds",
            "calls",
            lambda s: kpi.mean(s.calls["wait_abandoned_sum"], _i(s, "abandoned")),
        ),
        _fig(
            "longest_wait",
            "最长等待",
            "Longest wait",
            "seconds",
            "calls",
            lambda s: s.calls["wait_max"] if _offered(s) or _i(s, "abandoned") else None,
        ),
        _fig(
            "aht",
            "平均处理时长",
            "Average handling time",
            "seconds",
            "calls",
            lambda s: kpi.aht(
                s.calls["talk_sum"],
                s.calls["wrapup_sum"],
                _i(s, "answered") + _i(s, "outbound_answered"),
            ),
        ),
        _fig(
            "talk_time",
            "通话时长",
            "Talk time",
            "seconds",
            "calls",
            lambda s: s.calls["talk_sum"],
        ),
        _fig(
            "wrapup_completion",
            "话后小结填写率",
            "Wrap-ups filled in",
            "ratio",
            "calls",
            lambda s: kpi.share(_i(s, "wrapups"), _i(s, "answered") + _i(s, "outbound_answered")),
        ),
        _fig(
            "fcr",
            "首次解决率",
            "First-contact resolution",
            "ratio",
            "calls",
            lambda s: kpi.first_contact_resolution(_i(s, "identified"), _i(s, "repeats")),
        ),
        _fig("surveys", "评价数", "Survey answers", "count", "calls", count("surveys")),
        _fig(
            "survey_response_rate",
            "评价率",
            "Survey response rate",
            "ratio",
            "calls",
            lambda s: kpi.share(_i(s, "surveys"), _i(s, "answered")),
        ),
        _fig(
            "satisfaction",
            "满意度",
            "Satisfaction (4-5 of 5)",
            "ratio",
            "calls",
            lambda s: kpi.satisfaction_rate(_i(s, "surveys_satisfied"), _i(s, "surveys")),
        ),
        _fig(
            "satisfaction_mean",
            "平均评分",
            "Mean score",
            "score",
            "calls",
            lambda s: kpi.mean(s.calls["survey_score_sum"], _i(s, "surveys")),
        ),
        _fig("outbound", "外呼量", "Outbound calls", "count", "calls", count("outbound")),
        _fig(
            "outbound_answered",
            "外呼接通",
            "Outbound answered",
            "count",
            "calls",
            count("outbound_answered"),
        ),
    ]


def _state_figures() -> list[Figure]:
    return [
        _fig(
            "occupancy",
            "占用率",
            "Occupancy",
            "ratio",
            "states",
            lambda s: kpi.occupancy(_handling(s), s.state_seconds("ready")),
        ),
        _fig(
            "utilisation",
            "利用率",
            "Utilisation",
            "ratio",
            "states",
            lambda s: kpi.utilisation(
                _handling(s), s.state_seconds("ready", "on-call", "acw", "not-ready")
            ),
        ),
        _fig(
            "signed_in_time",
            "签入时长",
            "Signed-in time",
            "seconds",
            "states",
            lambda s: s.state_seconds("ready", "on-call", "acw", "not-ready") or None,
        ),
        _fig(
            "pause_time",
            "示忙时长",
            "Not-ready time",
            "seconds",
            "states",
            lambda s: s.state_seconds("not-ready") if s.states else None,
        ),
    ]


def _work_figures() -> list[Figure]:
    return [
        _fig(
            "complaints",
            "投诉量",
            "Complaints",
            "count",
            "work",
            lambda s: s.work.get("complaints", 0),
        ),
        _fig(
            "complaint_rate",
            "投诉率",
            "Complaint rate",
            "ratio",
            "work",
            lambda s: kpi.complaint_rate(s.work.get("complaints", 0), _i(s, "answered")),
        ),
        _fig(
            "complaint_resolution_rate",
            "投诉处理率",
            "Complaints resolved",
            "ratio",
            "work",
            lambda s: kpi.complaint_resolution_rate(
                s.work.get("complaints_resolved", 0), s.work.get("complaints", 0)
            ),
        ),
        _fig(
            "complaint_on_time_rate",
            "投诉按时处理率",
            "Complaints resolved on time",
            "ratio",
            "work",
            lambda s: kpi.share(
                s.work.get("complaints_on_time", 0), s.work.get("complaints_resolved", 0)
            ),
        ),
        _fig(
            "items_opened",
            "新建工单",
            "Work items opened",
            "count",
            "work",
            lambda s: s.work.get("items", 0),
        ),
        _fig(
            "items_on_time_rate",
            "工单按时解决率",
            "Work items resolved on time",
            "ratio",
            "work",
            lambda s: kpi.share(s.work.get("items_on_time", 0), s.work.get("items_resolved", 0)),
        ),
        _fig(
            "callbacks_completed",
            "回拨完成",
            "Callbacks completed",
            "count",
            "work",
            lambda s: s.work.get("callbacks_done", 0),
        ),
    ]


def _worklog_figures() -> list[Figure]:
    return [
        _fig(
            "worklogs_due",
            "应交工作日志",
            "Work logs due",
            "count",
            "worklog",
            lambda s: s.logs.get("due", 0),
        ),
        _fig(
            "worklog_completion",
            "工作日志按时提交率",
            "Work logs submitted on time",
            "ratio",
            "worklog",
            lambda s: kpi.worklog_completion(s.logs.get("on_time", 0), s.logs.get("due", 0)),
        ),
        _fig(
            "worklog_signed_share",
            "工作日志签核率",
            "Work logs signed off",
            "ratio",
            "worklog",
            lambda s: kpi.share(s.logs.get("signed", 0), s.logs.get("due", 0)),
        ),
    ]


FIGURES: dict[str, Figure] = {
    f.name: f for f in (*_calls_figures(), *_state_figures(), *_work_figures(), *_worklog_figures())
}


def compute(names: tuple[str, ...], sums: Sums) -> dict[str, float | None]:
    return {name: FIGURES[name].compute(sums) for name in names}


def targets(settings: ReportsSettings, queue: str | None) -> dict[str, Target]:
    """The targets of the figures that have one; the service level's is the queue's own."""
    sl = settings.sl_target_of(queue) if queue else settings.service_level_target
    return {
        "service_level": Target("min", sl),
        "service_level_offered": Target("min", sl),
        "satisfaction": Target("min", settings.satisfaction_target),
        "complaint_rate": Target("max", settings.complaint_rate_target),
        "abandon_rate": Target("max", settings.abandon_rate_target),
        "worklog_completion": Target("min", settings.worklog_completion_target),
    }


def off_target(values: Mapping[str, float | None], goals: Mapping[str, Target]) -> list[str]:
    """The figures on the wrong side of their target."""
    return sorted(n for n, v in values.items() if n in goals and goals[n].missed(v))
