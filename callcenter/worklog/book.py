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
decides whether the log was on time. A log submitted before its span ended is frozen again
when it is signed off (the day was not over when the agent submitted).

A day is owed (``log_days``) only on evidence of work: the user was signed in during the
day's span, answered a call in it, or stored a log for it. The rota only shapes the spans.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, func, insert, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.agents.models import AgentStateRow
from callcenter.clock import Clock, utc_now
from callcenter.handover.ports import ShiftSpan
from callcenter.records.models import CallRecord
from callcenter.reports.ports import LogDay
from callcenter.settings import Disposition, WorklogSettings
from callcenter.store.types import UtcDateTime
from callcenter.worklog import days as rules
from callcenter.worklog.days import ONE_DAY, Covered
from callcenter.worklog.figures import SIGNED_IN, STATE_LOOKBACK, day_figures
from callcenter.worklog.localdate import local_date
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
_states: Table = AgentStateRow.__table__  # type: ignore[assignment]

DRAFT, SUBMITTED, RETURNED, SIGNED = "draft", "submitted", "returned", "signed"
EDITABLE = (DRAFT, RETURNED)
# The longest period the roll-up (an API) reads at once; the reports' completion figures
# (``log_days``) have no limit of their own.
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
# The roll-up's counts of logs (see ``Worklogs.rollup``).
COUNTED = ("due", "missing", "submitted", "on_time", "signed", "returned")


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
    if last < first:
        raise BAD_PERIOD(
            f"the period ends ({last}) before it starts ({first})",
            first=first.isoformat(),
            last=last.isoformat(),
        )
    days = (last - first).days + 1
    if days > MAX_PERIOD_DAYS:
        raise BAD_PERIOD(
            f"{first}..{last} is {days} days: ask for at most {MAX_PERIOD_DAYS} at once",
            first=first.isoformat(),
            last=last.isoformat(),
            max_days=MAX_PERIOD_DAYS,
        )


Edges = Mapping[date, tuple[datetime, datetime]]


class DayCovers:
    """The spans of one user's days: the stored logs' frozen spans, and the drafts' from the
    rota and the stored neighbours' edges (``days.covered``)."""

    def __init__(self, zone: ZoneInfo, spans: Iterable[ShiftSpan], stored: Edges) -> None:
        self.zone = zone
        self.stored = stored
        self.by_day: dict[date, list[ShiftSpan]] = defaultdict(list)
        for span in spans:
            self.by_day[rules.local_day(span.start, zone)].append(span)
        self._seen: dict[date, Covered] = {}

    def of(self, day: date) -> Covered:
        known = self._seen.get(day)
        if known is None:
            known = self._seen[day] = self._of(day)
        return known

    def _of(self, day: date) -> Covered:
        if day in self.stored:
            start, end = self.stored[day]
            midnights = (rules.midnight(day, self.zone), rules.midnight(day + ONE_DAY, self.zone))
            return Covered(day, start, end, (start, end) != midnights)
        near = [*self.by_day.get(day - ONE_DAY, ()), *self.by_day.get(day, ())]
        before = self.stored[day - ONE_DAY][1] if day - ONE_DAY in self.stored else None
        after = self.stored[day + ONE_DAY][0] if day + ONE_DAY in self.stored else None
        return rules.covered(day, self.zone, near, before=before, after=after)

    def holding(self, at: datetime) -> date:
        """The day whose log holds ``at``."""
        today = rules.local_day(at, self.zone)
        yesterday = today - ONE_DAY
        cut = None
        if yesterday in self.stored:
            cut = self.stored[yesterday][1]
        elif today in self.stored:
            cut = self.stored[today][0]
        near = [*self.by_day.get(yesterday, ()), *self.by_day.get(today, ())]
        return rules.day_holding(at, self.zone, near, cut)


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
        # Every user who writes logs (``log_days(None)``, and the roll-up of a reviewer who
        # sees every team); the room sets it.
        self.writers: Callable[[], Sequence[int]] = lambda: ()

    # --- days ------------------------------------------------------------------------------

    def today(self) -> date:
        return rules.local_day(self.clock(), self.zone)

    def _shifts(self, user_id: int, first: date, last: date) -> Sequence[ShiftSpan]:
        """The user's shifts that can shape the days first..last (from the day before)."""
        if self.rota is None:
            return ()
        start = rules.midnight(first - ONE_DAY, self.zone)
        end = rules.midnight(last + 2 * ONE_DAY, self.zone)
        return self.rota.spans(user_id, start, end)

    async def _edges(
        self, user_ids: Sequence[int], first: date, last: date
    ) -> dict[int, dict[date, tuple[datetime, datetime]]]:
        """The stored logs' frozen spans of first..last, per user."""
        l = _logs.c  # noqa: E741
        out: dict[int, dict[date, tuple[datetime, datetime]]] = defaultdict(dict)
        if not user_ids:
            return out
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(l.user_id, l.day, l.covers_start, l.covers_end).where(
                    l.user_id.in_(sorted(user_ids)), l.day >= first, l.day <= last
                )
            )
            for user_id, day, start, end in rows:
                out[int(user_id)][day] = (start, end)
        return out

    async def _covers(self, user_id: int, first: date, last: date) -> DayCovers:
        edges = await self._edges([user_id], first - ONE_DAY, last + ONE_DAY)
        return DayCovers(self.zone, self._shifts(user_id, first, last), edges.get(user_id, {}))

    async def covered(self, user_id: int, day: date) -> Covered:
        """The span of the user's log of ``day`` (stored: its frozen one)."""
        return (await self._covers(user_id, day, day)).of(day)

    async def holding(self, user_id: int, at: datetime) -> Covered:
        """The span of the user's log holding ``at``."""
        today = rules.local_day(at, self.zone)
        covers = await self._covers(user_id, today - ONE_DAY, today)
        return covers.of(covers.holding(at))

    async def current_day(self, user_id: int) -> date:
        """The day whose log is open now (yesterday's during a night shift begun then)."""
        return (await self.holding(user_id, self.clock())).day

    def check_future(self, day: date) -> None:
        today = self.today()
        if day > today:
            raise FUTURE_DAY(f"{day} is after today ({today})", day=day.isoformat())

    def check_age(self, day: date) -> None:
        """How far back a log may be created (a stored one stays readable and, when sent
        back, editable whatever its age)."""
        if day < self.today() - timedelta(days=self.settings.max_back_days):
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
        cover = await self.holding(user_id, at)
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
            self.check_age(day)
            cover = await self.covered(user_id, day)
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
        midnights = (
            rules.midnight(row.day, self.zone),
            rules.midnight(row.day + ONE_DAY, self.zone),
        )
        return {
            **data_of(row),
            "stored": True,
            "by_shift": (row.covers_start, row.covers_end) != midnights,
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
        self.check_future(day)
        now = self.clock()
        row = await self.load(author.id, day)
        if row is None:
            self.check_age(day)
            if version != 0:
                raise STALE_LOG(f"there is no stored log of {day} yet: send version 0", version=0)
            cover = await self.covered(author.id, day)
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
        values: dict[str, Any] = {
            "state": SIGNED,
            "version": version + 1,
            "signed_by": author.id,
            "signed_by_name": author.name[:120],
            "signed_at": now,
            "updated_at": now,
        }
        if row.submitted_at is not None and row.submitted_at < row.covers_end:
            # Submitted before the day's span was over: what is signed off is the whole day
            # (as far as it has gone now), not the part the agent had seen.
            cover = Covered(row.day, row.covers_start, row.covers_end, False)
            values["figures"] = await self.figures(row.user_id, cover)
        await self._update(
            row,
            version,
            (SUBMITTED,),
            values,
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
        """Submitted logs of the users in first..last that the check picks (``days.picked``:
        per agent and review period, a share of the logs submitted in that period; the
        periods are read whole, so a week's share counts the whole week)."""
        l = _logs.c  # noqa: E741
        if not user_ids:
            return []
        period = self.settings.review_period
        start = rules.period_start(first, period)
        end = rules.period_start(last, period) + timedelta(days=0 if period == "day" else 6)
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(_logs)
                .where(
                    l.user_id.in_(sorted(user_ids)),
                    l.first_submitted_at.is_not(None),
                    l.day >= start,
                    l.day <= end,
                )
                .order_by(l.day, l.submitted_at, l.id)
            )
            found = [_row(r._mapping) for r in rows]
        chosen = rules.picked(
            (
                rules.Submitted(
                    r.id, r.user_id, r.day, r.state == SIGNED or r.returned_at is not None
                )
                for r in found
            ),
            self.settings.review_share,
            period,
        )
        return [
            r for r in found if r.id in chosen and r.state == SUBMITTED and first <= r.day <= last
        ]

    def review_window(self) -> tuple[date, date]:
        """The review list's default days: a week back by day; from the previous ISO week's
        Monday by week (last week's logs are still checked on Monday)."""
        today = self.today()
        if self.settings.review_period == "day":
            return today - timedelta(days=6), today
        return rules.period_start(today, "week") - timedelta(days=7), today

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

        A day is owed on evidence of work only: the user was signed in during the day's
        span, answered a call in it, or stored a log for it (``_owed``). ``None``: every
        user who writes logs. No limit on the period (the reports ask for years)."""
        if last < first:
            return []
        users = list(user_ids) if user_ids is not None else list(self.writers())
        logs = await self.period_logs(users, first - ONE_DAY, last + ONE_DAY)
        owed = await self._owed(users, first, last, logs)
        return _passed(owed, logs, self.clock(), self.settings.due_hours)

    async def _owed(
        self, user_ids: Sequence[int], first: date, last: date, logs: Sequence[WorklogRow]
    ) -> dict[tuple[int, date], datetime]:
        """(user, day) -> the end of the day's span, for the days first..last owed: stored
        logs, and the days whose span holds a call answered or signed-in time. The evidence
        is two grouped queries (per user and local date: the first and last instant); the
        spans are computed in memory from the rota and the stored logs' edges."""
        stored: dict[int, dict[date, tuple[datetime, datetime]]] = defaultdict(dict)
        for row in logs:
            stored[row.user_id][row.day] = (row.covers_start, row.covers_end)
        owed: dict[tuple[int, date], datetime] = {
            (r.user_id, r.day): r.covers_end for r in logs if first <= r.day <= last
        }
        covers: dict[int, DayCovers] = {}
        for user_id, low, high in await self._worked(user_ids, first, last):
            if user_id not in covers:
                covers[user_id] = DayCovers(
                    self.zone, self._shifts(user_id, first, last), stored.get(user_id, {})
                )
            cover_of = covers[user_id].of
            day = max(first, rules.local_day(low, self.zone) - ONE_DAY)
            until = min(last, rules.local_day(high, self.zone))
            while day <= until:
                if (user_id, day) not in owed:
                    cover = cover_of(day)
                    if cover.start < high and low < cover.end:
                        owed[(user_id, day)] = cover.end
                day += ONE_DAY
        return owed

    async def _worked(
        self, user_ids: Sequence[int], first: date, last: date
    ) -> list[tuple[int, datetime, datetime]]:
        """Evidence of work around first..last: per user and local date, [first, last] of
        the calls answered (as a span ending just after the last call) and of the signed-in
        time (state rows started that date, an open one ending now). Within a local date
        at most two log spans meet (the boundary is on that date), so the first and last
        instants tell exactly which of them hold some evidence."""
        if not user_ids:
            return []
        users = sorted(user_ids)
        now = self.clock()
        low = rules.midnight(first, self.zone)
        high = rules.midnight(last + 2 * ONE_DAY, self.zone)
        dialect = self.engine.dialect.name
        c, s = _calls.c, _states.c
        calls = (
            select(
                c.answered_by_user.label("u"),
                local_date(c.answered_at, self.zone, low, high, dialect).label("d"),
                c.answered_at.label("a"),
            )
            .where(c.answered_by_user.in_(users), c.answered_at >= low, c.answered_at < high)
            .subquery()
        )
        ended = func.coalesce(s.ended_at, literal(now, UtcDateTime()))
        states = (
            select(
                s.user_id.label("u"),
                local_date(s.started_at, self.zone, low - STATE_LOOKBACK, high, dialect).label("d"),
                s.started_at.label("a"),
                ended.label("b"),
            )
            .where(
                s.user_id.in_(users),
                s.state.in_(SIGNED_IN),
                s.started_at < high,
                or_(s.started_at >= low - STATE_LOOKBACK, s.ended_at.is_(None)),
                ended > low,
                ended > s.started_at,
            )
            .subquery()
        )
        tick = timedelta(microseconds=1)
        out: list[tuple[int, datetime, datetime]] = []
        async with self.engine.connect() as conn:
            for user_id, first_at, last_at in await conn.execute(
                select(calls.c.u, func.min(calls.c.a), func.max(calls.c.a)).group_by(
                    calls.c.u, calls.c.d
                )
            ):
                out.append((int(user_id), first_at, last_at + tick))
            for user_id, first_at, last_at in await conn.execute(
                select(states.c.u, func.min(states.c.a), func.max(states.c.b)).group_by(
                    states.c.u, states.c.d
                )
            ):
                out.append((int(user_id), first_at, last_at))
        return out

    async def rollup(
        self, user_ids: Sequence[int], first: date, last: date
    ) -> tuple[dict[int, dict[str, Any]], list[WorklogRow]]:
        """Per user, over the logs of first..last:

        - ``due``: days owed whose deadline has passed (as the reports count them);
        - ``missing``: of those, the days with no submitted log;
        - ``submitted``: logs submitted (at least once);
        - ``on_time``: logs whose first submission was on time (deadline passed or not);
        - ``signed``: logs signed off; ``returned``: logs sent back and not resubmitted;
        - the sums of the submitted logs' frozen figures.

        And the submitted logs (for the problems and suggestions)."""
        check_period(first, last)
        logs = await self.period_logs(user_ids, first - ONE_DAY, last + ONE_DAY)
        owed = await self._owed(user_ids, first, last, logs)
        inside = [r for r in logs if first <= r.day <= last]
        by_user: dict[int, list[WorklogRow]] = defaultdict(list)
        for row in inside:
            by_user[row.user_id].append(row)
        due: dict[int, list[LogDay]] = defaultdict(list)
        for one in _passed(owed, inside, self.clock(), self.settings.due_hours):
            due[one.user_id].append(one)
        per: dict[int, dict[str, Any]] = {}
        for user_id in user_ids:
            mine = by_user.get(user_id, [])
            submitted = [r for r in mine if r.first_submitted_at is not None]
            sent = {r.day for r in submitted}
            days = due.get(user_id, [])
            per[user_id] = {
                "due": len(days),
                "missing": sum(d.day not in sent for d in days),
                "submitted": len(submitted),
                "on_time": sum(bool(r.on_time) for r in submitted),
                "signed": sum(r.state == SIGNED for r in mine),
                "returned": sum(r.state == RETURNED for r in mine),
                **{
                    name: sum(_number((r.figures or {}).get(name)) for r in submitted)
                    for name in SUMMED
                },
            }
        return per, [r for r in inside if r.first_submitted_at is not None]


def _passed(
    owed: Mapping[tuple[int, date], datetime],
    logs: Sequence[WorklogRow],
    now: datetime,
    due_hours: float,
) -> list[LogDay]:
    """The owed days whose deadline has passed, each with its log's on time and sign-off."""
    stored = {(r.user_id, r.day): r for r in logs}
    out: list[LogDay] = []
    for (user_id, day), end in sorted(owed.items()):
        if rules.deadline(end, due_hours) > now:
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
