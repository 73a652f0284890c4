"""The standard reports: the set contact-centre teams know from QueueMetrics-like tools, each
a figure set with a default dimension and interval. Any of them can be changed on the page
(another dimension, interval or period), and "custom" takes any figures."""

from __future__ import annotations

from dataclasses import dataclass

from callcenter.reports.query import WRAPPED, WRAPPED_SHARE, Dimension, Interval

__all__ = ["STANDARD", "StandardReport"]


@dataclass(frozen=True, slots=True)
class StandardReport:
    name: str
    label_zh: str
    label_en: str
    dimension: Dimension
    interval: Interval
    figures: tuple[str, ...]


_QUEUE = (
    "offered",
    "answered",
    "answer_rate",
    "abandoned",
    "abandon_rate",
    "service_level",
    "service_level_offered",
    "asa",
    "longest_wait",
    "aht",
    "overflowed",
    "transferred",
)

STANDARD: dict[str, StandardReport] = {
    r.name: r
    for r in (
        StandardReport("queue-summary", "队列汇总", "Queue summary", "queue", "total", _QUEUE),
        StandardReport(
            "agent-summary",
            "坐席汇总",
            "Agent summary",
            "agent",
            "total",
            (
                "answered",
                "talk_time",
                "aht",
                "transferred",
                "wrapup_completion",
                "fcr",
                "satisfaction",
                "occupancy",
                "utilisation",
                "pause_time",
                "outbound",
                "worklog_completion",
                "worklog_signed_share",
            ),
        ),
        StandardReport(
            "service-level",
            "服务水平(按时段)",
            "Service level by interval",
            "none",
            "hour",
            (
                "offered",
                "answered",
                "service_level",
                "service_level_offered",
                "asa",
                "abandon_rate",
            ),
        ),
        StandardReport(
            "abandons",
            "放弃分析",
            "Abandon analysis",
            "hour",
            "total",
            ("offered", "abandoned", "short_abandons", "abandon_rate", "abandon_wait", "timeouts"),
        ),
        StandardReport(
            "dispositions",
            "小结分类",
            "Dispositions",
            "disposition",
            "total",
            (WRAPPED, WRAPPED_SHARE),
        ),
        StandardReport(
            "surveys",
            "满意度调查",
            "Survey results",
            "queue",
            "total",
            ("answered", "surveys", "survey_response_rate", "satisfaction", "satisfaction_mean"),
        ),
        StandardReport(
            "complaints",
            "投诉与工单",
            "Complaints and work items",
            "queue",
            "total",
            (
                "answered",
                "complaints",
                "complaint_rate",
                "complaint_resolution_rate",
                "complaint_on_time_rate",
                "items_opened",
                "items_on_time_rate",
                "callbacks_completed",
            ),
        ),
        StandardReport(
            "transfers",
            "转接",
            "Transfers",
            "queue",
            "total",
            ("answered", "transferred", "overflowed", "fcr"),
        ),
        StandardReport(
            "agent-states",
            "坐席状态与示忙",
            "Agent states and pause codes",
            "agent",
            "day",
            ("signed_in_time", "pause_time", "occupancy", "utilisation"),
        ),
        StandardReport(
            "pause-codes",
            "示忙原因",
            "Not-ready time by reason",
            "pause_code",
            "total",
            ("pause_time",),
        ),
        StandardReport(
            "trend",
            "月度趋势",
            "Monthly trend",
            "none",
            "month",
            ("offered", "answer_rate", "service_level", "satisfaction", "complaint_rate", "aht"),
        ),
    )
}
