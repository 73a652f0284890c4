"""The work logs: drafts, saves, submissions, sign-offs and returns, the supervisors' review
list, the team roll-up and the completion figures (seed 001's 工作日志填写情况).

States (a log row exists from its first save)::

    (draft, not stored) --save--> draft --submit--> submitted --sign--> signed (final)
                                    ^                  |
                                    |               return (with a comment)
                                    +---- returned <---+   (the agent edits, resubmits)

Every change names the version it read and is one conditional UPDATE (``WHERE version = :v
AND state IN (...)``): two supervisors signing at once, one row changes, the other is told
who signed. A submission freezes the day's figures into the row; the first submission
decides whether the log was on time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, case, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.clock import Clock, utc_now
from callcenter.records.models import CallRecord
from callcenter.reports.ports import LogDay
from callcenter.settings import Disposition, WorklogSettings
from callcenter.worklog import days as rules
from callcenter.worklog.days import Covered
from callcenter.worklog.figures import day_figures
from callcenter.worklog.models import WorklogCommentRow, WorklogRow
from callcenter.worklog.ports import HandoverTally, WorkRota
from callcenter.worklog.problems import (
    ALREADY_SIGNED,
    ALREADY_SUBMITTED,
    BAD_PERIOD,
    DAY_TOO_OLD,
    FUTURE_DAY,
    NO_SUCH_LOG,
    NOT_SUBMITTED,
    STALE_LOG,
)

_logs: Table = WorklogRow.__table__  # type: ignore[assignment]
_comments: Table = WorklogCommentRow.__table__  # type: ignore[assignment]
_calls: Table = CallRecord.__table__  # type: ignore[assignment]

DRAFT, SUBMITTED, RETURNED, SIGNED = "draft", "submitted", "returned", "signed"
EDITABLE = (DRAFT, RETURNED)
# A period asked of the roll-up or the completion: a year and a bit at most.
MAX_PERIOD_DAYS = 400
# Figures added up in the roll-up (from the logs' frozen figures).
SUMMED = (
    "calls",
    "talk_seconds",
    "callbacks",
    "callbacks_reached",
    "items_opened",
    "items_resolved",
    "items_escalated",
    "pause_seconds",
)


@dataclass(frozen=True, slots=True)
class Author:
    """Who acts on a log (the API's user)."""

    id: int
    name: str


@dataclass(frozen=True, slots=True)
class Narrative:
    summary: str
    entries: list[dict[str, str]]


def check_period(first: date, last: date) -> None:
    if last < first or (last - first).days >= MAX_PERIOD_DAYS:
        raise BAD_PERIOD(
            f"{first}..{last}: the last day is on or after the first, at most "
            f"{MAX_PERIOD_DAYS} days",
            first=first.isoformat(),
            last=last.isoformat(),
        )


class Worklogs:
    """The logs in the database; offers ``DayFigures`` (handover) and ``WorklogCompletion``
    (reports)."""

    def __init__(
        self,
        engine: AsyncEngine,
        settings: WorklogSettings,
        zone: ZoneInfo,
        *,
        rota: WorkRota | None = None,
        handovers: HandoverTally | None = None,
        dispositions: Sequence[Disposition] = (),
        clock: Clock = utc_now,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.zone = zone
        self.rota = rota
        self.handovers = handovers
        self.dispositions = {d.code: d for d in dispositions}
        self.clock = clock
        # Every user who writes logs (``log_days`` for every user); the room sets it.
        self.writers: Callable[[], Sequence[int]] = lambda: ()

    # --- days ------------------------------------------------------------------------------

    def today(self) -> date:
        return rules.local_day(self.clock(), self.zone)

    def _spans_around(self, user_id: int, first: date, last: date) -> Sequence[Any]:
        if self.rota is None:
            return ()
        start = rules.midnight(first - timedelta(days=1), self.zone)
        end = rules.midnight(last + timedelta(days=2), self.zone)
        return self.rota.spans(user_id, start, end)

    def covered(self, user_id: int, day: date) -> Covered:
        return rules.covered(day, self.zone, self._spans_around(user_id, day, day))

    def current_day(self, user_id: int) -> date:
        """The day whose log is open now (yesterday's during a night shift begun then)."""
        now = self.clock()
        today = rules.local_day(now, self.zone)
        spans = self._spans_around(user_id, today - timedelta(days=1), today)
        return rules.day_holding(now, self.zone, spans).day

    def check_day(self, day: date) -> None:
        today = self.today()
        if day > today:
            raise FUTURE_DAY(f"{day} is after today ({today})", day=day.isoformat())
        if day < today - timedelta(days=self.settings.max_back_days):
            raise DAY_TOO_OLD(
                f"{day} is more than {self.settings.max_back_days} days back",
                day=day.isoformat(),
                max_back_days=self.settings.max_back_days,
            )

    # --- figures ---------------------------------------------------------------------------

    async def figures(self, user_id: int, cover: Covered) -> dict[str, Any]:
        tally = None
        if self.handovers is not None:
            tally = await self.handovers.handovers_of(user_id, cover.start, cover.end)
        async with self.engine.connect() as conn:
            return await day_figures(
                conn, user_id, cover.start, cover.end, self.clock(), self.dispositions, tally
            )

    async def day_figures(self, user_id: int, at: datetime) -> dict[str, object]:
        """``DayFigures`` (the handover document): the figures of the log day holding ``at``,
        with the day and the span they cover."""
        today = rules.local_day(at, self.zone)
        spans = self._spans_around(user_id, today - timedelta(days=1), today)
        cover = rules.day_holding(at, self.zone, spans)
        figures = await self.figures(user_id, cover)
        return {
            "day": cover.day.isoformat(),
            "covers_start": cover.start.isoformat(),
            "covers_end": cover.end.isoformat(),
            **figures,
        }

    # --- reading ---------------------------------------------------------------------------

    async def load(self, user_id: int, day: date) -> WorklogRow | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(_logs).where(_logs.c.user_id == user_id, _logs.c.day == day)
                )
            ).first()
        return _row(row._mapping) if row is not None else None

    async def get(self, log_id: int) -> WorklogRow:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(_logs).where(_logs.c.id == log_id))).first()
        if row is None:
            raise NO_SUCH_LOG(f"there is no work log {log_id}", id=log_id)
        return _row(row._mapping)

    async def comments(self, log_id: int) -> list[dict[str, Any]]:
        c = _comments.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(c.id, c.at, c.author_id, c.author_name, c.kind, c.text)
                .where(c.log_id == log_id)
                .order_by(c.at, c.id)
            )
            return [dict(r._mapping) for r in rows]

    async def view(self, user_id: int, day: date) -> dict[str, Any]:
        """The user's log of the day as the page shows it: the stored one (its figures
        frozen once submitted) or a draft of figures computed now."""
        row = await self.load(user_id, day)
        if row is None:
            cover = self.covered(user_id, day)
            return {
                "id": None,
                "user_id": user_id,
                "day": day,
                "state": DRAFT,
                "stored": False,
                "version": 0,
                "covers_start": cover.start,
                "covers_end": cover.end,
                "by_shift": cover.by_shift,
                "deadline": rules.deadline(cover.end, self.settings.due_hours),
                "summary": "",
                "entries": [],
                "figures": await self.figures(user_id, cover),
                "figures_frozen": False,
                "comments": [],
            }
        return await self.describe(row)

    async def describe(self, row: WorklogRow) -> dict[str, Any]:
        live = row.state in EDITABLE or row.figures is None
        figures = (
            await self.figures(
                row.user_id, Covered(row.day, row.covers_start, row.covers_end, False)
            )
            if live
            else row.figures
        )
        return {
            **data_of(row),
            "stored": True,
            "deadline": rules.deadline(row.covers_end, self.settings.due_hours),
            "figures": figures,
            "figures_frozen": not live,
            "comments": await self.comments(row.id),
        }

    async def history(self, user_id: int, first: date, last: date) -> list[dict[str, Any]]:
        l = _logs.c  # noqa: E741
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(_logs)
                .where(l.user_id == user_id, l.day >= first, l.day <= last)
                .order_by(l.day.desc())
            )
            return [data_of(_row(r._mapping)) for r in rows]

    # --- the agent's changes --------------------------------------------------------------

    async def save(
        self, author: Author, day: date, version: int, text: Narrative, *, submit: bool = False
    ) -> WorklogRow:
        """Store the agent's narrative (and submit it, with the day's figures frozen)."""
        self.check_day(day)
        now = self.clock()
        row = await self.load(author.id, day)
        if row is None:
            if version != 0:
                raise STALE_LOG(f"there is no stored log of {day} yet: send version 0", version=0)
            cover = self.covered(author.id, day)
            values: dict[str, Any] = {
                "user_id": author.id,
                "day": day,
                "covers_start": cover.start,
                "covers_end": cover.end,
                "state": DRAFT,
                "version": 1,
                "summary": text.summary,
                "entries": text.entries,
                "created_at": now,
                "updated_at": now,
            }
            if submit:
                values.update(await self._submission(author.id, cover, now, None))
            try:
                async with self.engine.begin() as conn:
                    await conn.execute(insert(_logs).values(**values))
            except IntegrityError:
                raise STALE_LOG(f"the log of {day} was stored meanwhile: read it again") from None
            created = await self.load(author.id, day)
            assert created is not None
            return created
        self._check_editable(row, version, submit)
        values = {
            "summary": text.summary,
            "entries": text.entries,
            "updated_at": now,
            "version": row.version + 1,
        }
        if submit:
            cover = Covered(row.day, row.covers_start, row.covers_end, False)
            values.update(await self._submission(author.id, cover, now, row))
        await self._update(row, version, EDITABLE, values)
        return await self.get(row.id)

    async def _submission(
        self, user_id: int, cover: Covered, now: datetime, row: WorklogRow | None
    ) -> dict[str, Any]:
        first = row.first_submitted_at if row is not None else None
        on_time = row.on_time if row is not None and first is not None else None
        if first is None:
            first = now
            on_time = now < rules.deadline(cover.end, self.settings.due_hours)
        return {
            "state": SUBMITTED,
            "figures": await self.figures(user_id, cover),
            "submitted_at": now,
            "first_submitted_at": first,
            "on_time": on_time,
        }

    def _check_editable(self, row: WorklogRow, version: int, submit: bool) -> None:
        if row.state == SIGNED:
            raise ALREADY_SIGNED(
                f"the log of {row.day} was signed off by {row.signed_by_name}",
                signed_by=row.signed_by_name,
            )
        if row.state == SUBMITTED:
            raise ALREADY_SUBMITTED(
                f"the log of {row.day} is submitted; it changes again only if sent back",
                state=row.state,
            )
        if row.version != version:
            raise STALE_LOG(
                f"the log is at version {row.version}, not {version}", version=row.version
            )

    async def _update(
        self,
        row: WorklogRow,
        version: int,
        states: Sequence[str],
        values: Mapping[str, Any],
        comment: dict[str, Any] | None = None,
    ) -> None:
        """One conditional UPDATE (and its comment line in the same transaction); a lost race
        is told as what the winner did."""
        l = _logs.c  # noqa: E741
        async with self.engine.begin() as conn:
            done = await conn.execute(
                update(_logs)
                .where(l.id == row.id, l.version == version, l.state.in_(states))
                .values(**values)
            )
            if done.rowcount == 1:
                if comment is not None:
                    await conn.execute(insert(_comments).values(log_id=row.id, **comment))
                return
        now = await self.get(row.id)
        if now.state == SIGNED:
            raise ALREADY_SIGNED(
                f"the log was signed off by {now.signed_by_name} at {now.signed_at}",
                signed_by=now.signed_by_name,
                signed_at=now.signed_at,
            )
        if now.state not in states:
            problem = ALREADY_SUBMITTED if now.state == SUBMITTED else NOT_SUBMITTED
            raise problem(f"the log is {now.state}", state=now.state, version=now.version)
        raise STALE_LOG(f"the log is at version {now.version}, not {version}", version=now.version)

    # --- the supervisors' changes ---------------------------------------------------------

    async def sign(self, row: WorklogRow, author: Author, version: int) -> WorklogRow:
        now = self.clock()
        if row.state == SIGNED:
            raise ALREADY_SIGNED(
                f"the log was signed off by {row.signed_by_name}", signed_by=row.signed_by_name
            )
        await self._update(
            row,
            version,
            (SUBMITTED,),
            {
                "state": SIGNED,
                "version": version + 1,
                "signed_by": author.id,
                "signed_by_name": author.name[:120],
                "signed_at": now,
                "updated_at": now,
            },
            {
                "at": now,
                "author_id": author.id,
                "author_name": author.name[:120],
                "kind": SIGNED,
                "text": "",
            },
        )
        return await self.get(row.id)

    async def send_back(
        self, row: WorklogRow, author: Author, version: int, comment: str
    ) -> WorklogRow:
        now = self.clock()
        await self._update(
            row,
            version,
            (SUBMITTED,),
            {
                "state": RETURNED,
                "version": version + 1,
                "returned_by": author.id,
                "returned_by_name": author.name[:120],
                "returned_at": now,
                "return_comment": comment,
                "updated_at": now,
            },
            {
                "at": now,
                "author_id": author.id,
                "author_name": author.name[:120],
                "kind": RETURNED,
                "text": comment,
            },
        )
        return await self.get(row.id)

    async def comment(self, row: WorklogRow, author: Author, text: str) -> dict[str, Any]:
        now = self.clock()
        values = {
            "log_id": row.id,
            "at": now,
            "author_id": author.id,
            "author_name": author.name[:120],
            "kind": "comment",
            "text": text,
        }
        async with self.engine.begin() as conn:
            await conn.execute(insert(_comments).values(**values))
        return values

    async def to_review(self, user_ids: Sequence[int], first: date, last: date) -> list[WorklogRow]:
        """Submitted logs of the users in first..last that the check picks."""
        l = _logs.c  # noqa: E741
        if not user_ids:
            return []
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(_logs)
                .where(
                    l.user_id.in_(sorted(user_ids)),
                    l.state == SUBMITTED,
                    l.day >= first,
                    l.day <= last,
                )
                .order_by(l.day, l.submitted_at, l.id)
            )
            found = [_row(r._mapping) for r in rows]
        share, period = self.settings.review_share, self.settings.review_period
        return [r for r in found if rules.to_review(r.id, r.day, share, period)]

    # --- the roll-up and the completion figures -----------------------------------------

    async def period_logs(
        self, user_ids: Sequence[int], first: date, last: date
    ) -> list[WorklogRow]:
        l = _logs.c  # noqa: E741
        if not user_ids:
            return []
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(_logs)
                .where(l.user_id.in_(sorted(user_ids)), l.day >= first, l.day <= last)
                .order_by(l.day, l.user_id)
            )
            return [_row(r._mapping) for r in rows]

    async def log_days(
        self, user_ids: Sequence[int] | None, first: date, last: date
    ) -> Sequence[LogDay]:
        """``WorklogCompletion``: the days first..last each user owed a log and whose
        deadline has passed, with whether it was submitted on time and signed off.

        A day is owed by a user who worked it: with a rota, the days a shift of theirs
        starts; without one (no span in the period), the days they answered a call; and in
        both cases any day they stored a log for. ``None``: every user who writes logs."""
        check_period(first, last)
        users = list(user_ids) if user_ids is not None else list(self.writers())
        logs = await self.period_logs(users, first, last)
        return await self._log_days(users, first, last, logs)

    async def _log_days(
        self, user_ids: Sequence[int], first: date, last: date, logs: Sequence[WorklogRow]
    ) -> list[LogDay]:
        now = self.clock()
        due_hours = self.settings.due_hours
        stored = {(r.user_id, r.day): r for r in logs}
        owed: dict[int, dict[date, datetime]] = defaultdict(dict)  # day -> covers_end
        without_rota: list[int] = []
        for user_id in user_ids:
            spans = self._spans_around(user_id, first, last)
            starts = {rules.local_day(s.start, self.zone) for s in spans}
            worked = [d for d in starts if first <= d <= last]
            if worked:
                for day in worked:
                    owed[user_id][day] = rules.covered(day, self.zone, spans).end
            else:
                without_rota.append(user_id)
        for user_id, day in await self._days_with_calls(without_rota, first, last):
            owed[user_id][day] = rules.midnight(day + timedelta(days=1), self.zone)
        for (user_id, day), log in stored.items():
            owed[user_id][day] = log.covers_end
        out: list[LogDay] = []
        for user_id in sorted(owed):
            for day in sorted(owed[user_id]):
                if rules.deadline(owed[user_id][day], due_hours) > now:
                    continue
                row = stored.get((user_id, day))
                out.append(
                    LogDay(
                        user_id=user_id,
                        day=day,
                        on_time=bool(row is not None and row.on_time),
                        signed=row is not None and row.state == SIGNED,
                    )
                )
        return out

    async def _days_with_calls(
        self, user_ids: Sequence[int], first: date, last: date
    ) -> list[tuple[int, date]]:
        """(user, day) pairs with an answered call: one grouped query, the days told apart by
        the zone's midnights (a CASE over them: 23- and 25-hour days come out right)."""
        if not user_ids:
            return []
        days = rules.days_between(first, last)
        bounds = [rules.midnight(d, self.zone) for d in [*days, last + timedelta(days=1)]]
        c = _calls.c
        index = case(*[(c.answered_at < bounds[n + 1], n) for n in range(len(days))], else_=-1)
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(c.answered_by_user, index.label("n"))
                .where(
                    c.answered_by_user.in_(sorted(user_ids)),
                    c.answered_at >= bounds[0],
                    c.answered_at < bounds[-1],
                )
                .group_by(c.answered_by_user, index)
            )
            return [(int(u), days[int(n)]) for u, n in rows if 0 <= int(n) < len(days)]

    async def rollup(
        self, user_ids: Sequence[int], first: date, last: date
    ) -> tuple[dict[int, dict[str, Any]], list[WorklogRow]]:
        """Per user: the completion and the sums of the submitted logs' figures; and the
        logs (for the problems and suggestions)."""
        check_period(first, last)
        logs = await self.period_logs(user_ids, first, last)
        done: dict[int, list[LogDay]] = defaultdict(list)
        for one in await self._log_days(user_ids, first, last, logs):
            done[one.user_id].append(one)
        per: dict[int, dict[str, Any]] = {}
        for user_id in user_ids:
            mine = [r for r in logs if r.user_id == user_id]
            submitted = [r for r in mine if r.first_submitted_at is not None]
            figures = {
                name: sum(_number((r.figures or {}).get(name)) for r in submitted)
                for name in SUMMED
            }
            days = done.get(user_id, [])
            per[user_id] = {
                "due": len(days),
                "on_time": sum(d.on_time for d in days),
                "signed": sum(d.signed for d in days),
                "submitted": len(submitted),
                "returned": sum(r.state == RETURNED for r in mine),
                **figures,
            }
        return per, [r for r in logs if r.first_submitted_at is not None]


def _number(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _row(mapping: Any) -> WorklogRow:
    return WorklogRow(**dict(mapping))


def data_of(row: WorklogRow) -> dict[str, Any]:
    """A log as the API answers it (without its comments and live figures)."""
    return {
        "id": row.id,
        "user_id": row.user_id,
        "day": row.day,
        "state": row.state,
        "version": row.version,
        "covers_start": row.covers_start,
        "covers_end": row.covers_end,
        "summary": row.summary,
        "entries": list(row.entries or []),
        "submitted_at": row.submitted_at,
        "first_submitted_at": row.first_submitted_at,
        "on_time": row.on_time,
        "signed_by": row.signed_by,
        "signed_by_name": row.signed_by_name,
        "signed_at": row.signed_at,
        "returned_by_name": row.returned_by_name,
        "returned_at": row.returned_at,
        "return_comment": row.return_comment,
        "updated_at": row.updated_at,
    }


def entries_by_category(
    logs: Sequence[WorklogRow], names: Mapping[int, str]
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """category -> {"problem": [...], "suggestion": [...]}, each line with agent and day."""
    grouped: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for row in sorted(logs, key=lambda r: (r.day, r.user_id)):
        for entry in row.entries or []:
            kind = entry.get("kind")
            if kind not in ("problem", "suggestion"):
                continue
            lines = grouped.setdefault(
                entry.get("category", "other"), {"problem": [], "suggestion": []}
            )
            lines[kind].append(
                {
                    "log_id": row.id,
                    "user_id": row.user_id,
                    "name": names.get(row.user_id, f"#{row.user_id}"),
                    "day": row.day,
                    "text": entry.get("text", ""),
                }
            )
    return grouped
