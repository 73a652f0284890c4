"""Every contact-centre figure, defined once (考核指标).

Pure functions over counts and durations, used by the live model (rolling windows) and by the
historical reports, so the wallboard and the monthly report can never disagree on a definition.
`docs/kpi.md` says the same for people.

Common vocabulary:

* answered — calls connected to an agent from the queue.
* abandoned — the caller hung up while waiting; `short_abandons` is the part of them that waited
  less than the short-abandon threshold (a misdial or an instant change of mind) and is left out
  of the abandon and offered figures.
* timeouts — calls that left the queue unanswered because Asterisk made them leave (Queue()
  timeout, leave-when-empty).
* offered = answered + (abandoned - short_abandons) + timeouts. Withdrawn calls (moved by a
  supervisor or an overflow rule) and calls of unknown outcome are not offered to this queue.

A ratio with nothing to divide by is None — never 0, never a division error: "no calls" is not
"0 % service".
"""

from __future__ import annotations

__all__ = [
    "abandon_rate",
    "aht",
    "answer_rate",
    "asa",
    "complaint_rate",
    "complaint_resolution_rate",
    "first_contact_resolution",
    "follow_up_on_time_rate",
    "is_short_abandon",
    "mean",
    "occupancy",
    "offered",
    "satisfaction_rate",
    "service_level_of_answered",
    "service_level_of_offered",
    "share",
    "utilisation",
    "worklog_completion",
]


def _check_counts(**counts: float) -> None:
    for name, value in counts.items():
        if value < 0:
            raise ValueError(f"{name} must not be negative, got {value}")


def _ratio(numerator: float, denominator: float) -> float | None:
    return None if denominator == 0 else numerator / denominator


def is_short_abandon(wait_seconds: float, threshold_seconds: float) -> bool:
    """A short abandon waited strictly less than the threshold: ``wait < threshold``.

    A threshold of 0 disables short abandons (nothing waits less than 0 s).
    """
    return wait_seconds < threshold_seconds


def offered(answered: int, abandoned: int, timeouts: int, short_abandons: int = 0) -> int:
    """Offered calls = answered + (abandoned - short_abandons) + timeouts.

    Raises ValueError on a negative count or when short_abandons > abandoned.
    """
    _check_counts(
        answered=answered, abandoned=abandoned, timeouts=timeouts, short_abandons=short_abandons
    )
    if short_abandons > abandoned:
        raise ValueError("short_abandons cannot exceed abandoned")
    return answered + abandoned - short_abandons + timeouts


def service_level_of_answered(answered_within: int, answered: int) -> float | None:
    """Service level (服务水平) over answered calls = answered within T ÷ answered.

    T is the queue's service-level threshold (e.g. 20 s; "within" means wait ≤ T).
    No answered call → None.
    """
    _check_counts(answered_within=answered_within, answered=answered)
    if answered_within > answered:
        raise ValueError("answered_within cannot exceed answered")
    return _ratio(answered_within, answered)


def service_level_of_offered(
    answered_within: int, answered: int, abandoned: int, timeouts: int, short_abandons: int = 0
) -> float | None:
    """Service level over offered calls = answered within T ÷ offered.

    offered = answered + (abandoned - short_abandons) + timeouts. No offered call → None.
    Stricter than `service_level_of_answered`: every abandon and timeout counts as a miss.
    """
    if answered_within > answered:
        raise ValueError("answered_within cannot exceed answered")
    _check_counts(answered_within=answered_within)
    return _ratio(answered_within, offered(answered, abandoned, timeouts, short_abandons))


def abandon_rate(
    abandoned: int, answered: int, timeouts: int, short_abandons: int = 0
) -> float | None:
    """Abandon rate (放弃率) = (abandoned - short_abandons) ÷ offered.

    No offered call → None.
    """
    total = offered(answered, abandoned, timeouts, short_abandons)
    return _ratio(abandoned - short_abandons, total)


def answer_rate(
    answered: int, abandoned: int, timeouts: int, short_abandons: int = 0
) -> float | None:
    """Answer rate (接通率) = answered ÷ offered.

    No offered call → None.
    """
    return _ratio(answered, offered(answered, abandoned, timeouts, short_abandons))


def asa(total_wait_seconds: float, answered: int) -> float | None:
    """Average speed of answer (平均应答速度) = Σ wait of answered calls ÷ answered.

    Waits of abandoned and timed-out calls are not included. No answered call → None.
    """
    _check_counts(total_wait_seconds=total_wait_seconds, answered=answered)
    return _ratio(total_wait_seconds, answered)


def aht(total_talk_seconds: float, total_wrapup_seconds: float, handled: int) -> float | None:
    """Average handling time (平均处理时长) = (Σ talk + Σ wrap-up) ÷ handled calls.

    Handled = answered calls that have completed. No handled call → None.
    """
    _check_counts(
        total_talk_seconds=total_talk_seconds,
        total_wrapup_seconds=total_wrapup_seconds,
        handled=handled,
    )
    return _ratio(total_talk_seconds + total_wrapup_seconds, handled)


def occupancy(handling: float, idle: float) -> float | None:
    """Occupancy (占用率) = handling ÷ (handling + idle).

    Handling = talk + wrap-up time (or, for an instant figure, agents busy); idle = time (or
    agents) available and waiting for a call. Paused and logged-out time is in neither.
    Nothing staffed → None.
    """
    _check_counts(handling=handling, idle=idle)
    return _ratio(handling, handling + idle)


def satisfaction_rate(satisfied: int, responses: int) -> float | None:
    """Satisfaction (满意度) = survey answers scoring 4 or 5 ÷ survey answers.

    No survey answer → None.
    """
    _check_counts(satisfied=satisfied, responses=responses)
    if satisfied > responses:
        raise ValueError("satisfied cannot exceed responses")
    return _ratio(satisfied, responses)


def complaint_rate(complaints: int, handled: int) -> float | None:
    """Complaint rate (投诉率) = complaints opened ÷ handled calls. None without handled calls."""
    _check_counts(complaints=complaints, handled=handled)
    return _ratio(complaints, handled)


def complaint_resolution_rate(resolved: int, complaints: int) -> float | None:
    """Complaint resolution rate (投诉解决率) = complaints resolved ÷ complaints. None if none."""
    _check_counts(resolved=resolved, complaints=complaints)
    if resolved > complaints:
        raise ValueError("resolved cannot exceed complaints")
    return _ratio(resolved, complaints)


def follow_up_on_time_rate(on_time: int, due: int) -> float | None:
    """Follow-ups on time (回访及时率) = follow-ups done by their due date ÷ follow-ups due."""
    _check_counts(on_time=on_time, due=due)
    if on_time > due:
        raise ValueError("on_time cannot exceed due")
    return _ratio(on_time, due)


def utilisation(handling: float, signed_in: float) -> float | None:
    """Utilisation (利用率) = handling time (talk + after-call work) ÷ signed-in time
    (ready + on a call + after-call work + not ready). None when nobody was signed in."""
    _check_counts(handling=handling, signed_in=signed_in)
    if handling > signed_in:
        raise ValueError("handling cannot exceed signed-in time")
    return _ratio(handling, signed_in)


def first_contact_resolution(identified: int, repeated: int) -> float | None:
    """First-contact resolution (首次解决率) = answered calls from an identified number that
    did not call again within the FCR window ÷ answered calls from an identified number
    (withheld numbers cannot tell a repeat). None without such calls."""
    _check_counts(identified=identified, repeated=repeated)
    if repeated > identified:
        raise ValueError("repeated cannot exceed identified")
    return _ratio(identified - repeated, identified)


def mean(total: float, count: int) -> float | None:
    """An average (mean score, mean wait of abandons): total ÷ count, None when count is 0."""
    _check_counts(count=count)
    return _ratio(total, count)


def share(part: int, whole: int) -> float | None:
    """A share of a whole (survey response rate, on-time rate, share of a disposition):
    part ÷ whole, None when the whole is 0."""
    _check_counts(part=part, whole=whole)
    if part > whole:
        raise ValueError("part cannot exceed whole")
    return _ratio(part, whole)


def worklog_completion(on_time: int, due: int) -> float | None:
    """Work-log completion (工作日志填写率) = daily logs submitted by their deadline ÷ daily logs
    owed (days the agent worked whose deadline has passed). None when no log was owed."""
    _check_counts(on_time=on_time, due=due)
    if on_time > due:
        raise ValueError("on_time cannot exceed due")
    return _ratio(on_time, due)
