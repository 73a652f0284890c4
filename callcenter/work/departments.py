"""Other departments (technical, logistics, product...) who do not use this tool: an item is
sent to one by e-mail (the SMTP relay of ``work.smtp``) and/or a webhook (JSON POST), with a
reply link; the department's answer through the link lands on the item's timeline.

The link's token (``secrets.token_urlsafe(32)``) is the only credential of the reply page:
it is stored only as its SHA-256 hash, expires after ``work.reply_days``, and is never
logged. A link serves several replies until it expires (a department may answer twice).
A delivery that fails is written on the request's row and the timeline and told in the
answer; the item itself is never lost nor half-changed (docs/work-items.md, "Other
departments").
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
import smtplib
import ssl
import time
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.auth.identity import User
from callcenter.feed.serialize import dumps, to_data
from callcenter.settings import Department, SmtpSettings
from callcenter.web.errors import ApiError, Problem
from callcenter.work import lifecycle
from callcenter.work.items import Actor, WorkItems
from callcenter.work.models import DepartmentRequestRow, WorkItemEventRow, WorkItemRow
from callcenter.work.problems import NO_SUCH_DEPARTMENT, NOT_STORED, NOT_YOUR_ITEM

log = logging.getLogger(__name__)

NO_SUCH_LINK = Problem(404, "no-such-reply-link", "no reply link of that token")
LINK_EXPIRED = Problem(410, "reply-link-expired", "the reply link has expired")
TOO_MANY_REPLIES = Problem(429, "too-many-replies", "too many replies through one link")

# secrets.token_urlsafe(32): 43 characters of the URL-safe base64 alphabet. Anything else
# is no token of ours (answered as unknown, without a database look-up).
TOKEN_BYTES = 32
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
# The timeline lines sent along (those with a text), newest last.
MAX_NOTES = 50
SMTP_TIMEOUT = 20.0
WEBHOOK_TIMEOUT = 10.0
# Replies through one link, per replica: a link forwarded to a mailing list that loops, or
# a script gone wrong, cannot flood the timeline.
REPLIES_PER_HOUR = 10

PRIORITY_ZH = {"urgent": "紧急", "high": "高", "normal": "普通", "low": "低"}
KIND_ZH = {"follow-up": "跟进", "callback": "回电", "complaint": "投诉", "inquiry": "咨询"}
STATUS_ZH = {
    "open": "待处理",
    "in-progress": "处理中",
    "waiting-customer": "等待客户",
    "waiting-department": "等待其他部门",
    "resolved": "已解决",
    "closed": "已关闭",
}


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def mask_phone(phone: str | None) -> str | None:
    """The customer's number with every digit but the last four masked."""
    if not phone:
        return None
    keep = 4 if len(phone) > 4 else max(0, len(phone) - 2)
    return "*" * (len(phone) - keep) + phone[len(phone) - keep :]


def host_of(url: str) -> str:
    """What a log line may say of a webhook: its host (a path or query may hold a secret)."""
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"


# --- delivery ----------------------------------------------------------------------------


class DeliveryFailed(Exception):
    """A channel did not take the message; the text says why (no secret, no URL)."""


@dataclass(frozen=True, slots=True)
class Delivery:
    channel: str  # email, webhook
    delivered: bool
    error: str | None = None


def _smtp_reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "the relay refused the recipient"
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error
        said = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        return f"the relay answered {exc.smtp_code} {said}"[:300]
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"the relay does not support that: {exc}"[:300]
    if isinstance(exc, TimeoutError):
        return "the relay did not answer in time"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"[:300]
    return type(exc).__name__


class Mailer:
    """Sends through the configured relay with the standard library's smtplib, in a thread:
    STARTTLS when ``starttls``, then LOGIN when a username is set."""

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        tls: ssl.SSLContext | None = None,
        timeout: float = SMTP_TIMEOUT,
    ) -> None:
        self.settings = settings
        # Tests pass a context that trusts their own certificate; the system's otherwise.
        self.tls = tls
        self.timeout = timeout

    @property
    def configured(self) -> bool:
        return self.settings.host is not None

    async def send(self, message: EmailMessage) -> None:
        if self.settings.host is None:
            raise DeliveryFailed("no SMTP relay is configured (work.smtp.host)")
        try:
            await asyncio.to_thread(self._send, message)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(_smtp_reason(exc)) from None

    def _send(self, message: EmailMessage) -> None:
        settings = self.settings
        assert settings.host is not None
        with smtplib.SMTP(settings.host, settings.port, timeout=self.timeout) as smtp:
            smtp.ehlo()
            if settings.starttls:
                smtp.starttls(context=self.tls or ssl.create_default_context())
                smtp.ehlo()
            if settings.username:
                password = settings.password.get_secret_value() if settings.password else ""
                smtp.login(settings.username, password)
            smtp.send_message(message)


class Webhook:
    """POSTs the JSON to a department's URL (aiohttp client, a total timeout, no redirects
    followed); any 2xx is delivered."""

    def __init__(self, timeout: float = WEBHOOK_TIMEOUT) -> None:
        self.timeout = timeout

    async def post(self, url: str, payload: Mapping[str, Any]) -> None:
        body = dumps(payload).encode("utf-8")
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "callcenter-work-items",
            "X-Callcenter-Event": "work-item.department",
        }
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as session,
                session.post(url, data=body, headers=headers, allow_redirects=False) as response,
            ):
                if not 200 <= response.status < 300:
                    raise DeliveryFailed(f"the webhook answered HTTP {response.status}")
        except TimeoutError:
            raise DeliveryFailed(f"the webhook did not answer within {self.timeout:g} s") from None
        except aiohttp.ClientError as exc:
            # The exception's text names the URL: only its kind is kept.
            raise DeliveryFailed(
                f"the webhook could not be reached ({type(exc).__name__})"
            ) from None


# --- rate of replies ---------------------------------------------------------------------


class ReplyLimiter:
    """At most ``limit`` replies per key (a token's hash) per ``window`` seconds, in memory;
    keys least recently used are forgotten beyond ``max_keys``."""

    def __init__(
        self, limit: int = REPLIES_PER_HOUR, window: float = 3600.0, max_keys: int = 10_000
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, key: str, now: float | None = None) -> float | None:
        """Seconds until the key may reply again, or None (allowed now)."""
        now = time.monotonic() if now is None else now
        times = self._seen.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) < self.limit:
            return None
        return max(1.0, times[0] + self.window - now)

    def count(self, key: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        times = self._seen.setdefault(key, deque())
        self._seen.move_to_end(key)
        times.append(now)
        while len(self._seen) > self.max_keys:
            self._seen.popitem(last=False)


# --- the use cases -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sent:
    request: DepartmentRequestRow
    item: WorkItemRow
    deliveries: tuple[Delivery, ...]
    reply_url: str


@dataclass(frozen=True, slots=True)
class Label:
    """A department as its replies are labelled (its code, should it leave the settings)."""

    code: str
    zh: str
    en: str

    @classmethod
    def of(cls, department: Department) -> Label:
        return cls(department.code, department.label_zh, department.label_en)

    def __str__(self) -> str:
        return self.zh if self.zh == self.en else f"{self.zh} / {self.en}"


@dataclass(frozen=True, slots=True)
class Link:
    """A reply link found by its token, not expired."""

    request: DepartmentRequestRow
    department: Label
    item: WorkItemRow


class Departments:
    def __init__(
        self,
        items: WorkItems,
        *,
        mailer: Mailer | None = None,
        webhook: Webhook | None = None,
        limiter: ReplyLimiter | None = None,
    ) -> None:
        self.items = items
        self.settings = items.settings
        self.mailer = mailer or Mailer(self.settings.smtp)
        self.webhook = webhook or Webhook()
        self.limiter = limiter or ReplyLimiter()
        self.by_code = {d.code: d for d in self.settings.departments}

    def department(self, code: str) -> Department:
        found = self.by_code.get(code)
        if found is None:
            raise NO_SUCH_DEPARTMENT(f"no department {code!r}", department=code)
        return found

    def reply_url(self, token: str) -> str:
        return f"{self.settings.public_url.rstrip('/')}/work/reply/{token}"

    # --- sending -----------------------------------------------------------------------

    async def send(self, item_id: int, user: User, code: str, message: str) -> Sent:
        """Send the item to a department; the delivery's outcome is in the answer (and on
        the row and the timeline), a failure raises nothing."""
        department = self.department(code)
        row = await self.items.load(item_id)
        if not self.items.may_change(user, row):
            raise NOT_YOUR_ITEM(f"item {row.ticket}: only its owner or a supervisor")
        now = self.items.clock()
        token = new_token()
        channels = [c for c in ("email", "webhook") if getattr(department, c)]
        request = DepartmentRequestRow(
            item_id=row.id,
            department=department.code,
            token_hash=hash_token(token),
            sent_by=user.id,
            sent_at=now,
            channel="+".join(channels),
            delivered=False,
            error=None,
            expires_at=now + timedelta(days=self.settings.reply_days),
            answered_at=None,
        )
        # Stored before it goes out: a department that answers at once finds its link.
        await self._store(request)
        sender = user.display_name or user.username
        payload = await self._payload(row, department, message, sender, token, request)
        deliveries = await self._deliver(department, payload)
        delivered = any(d.delivered for d in deliveries)
        error = "; ".join(f"{d.channel}: {d.error}" for d in deliveries if not d.delivered) or None
        await self._delivered(request, delivered, error)
        actor = Actor.of(user)
        row = await self.items.note(
            row.id,
            actor,
            message,
            kind="department",
            department=department.code,
            request_id=request.id,
            channels=channels,
            delivered=delivered,
            error=error,
            expires_at=request.expires_at,
        )
        if delivered and lifecycle.allowed(row.status, "waiting-department"):
            row = await self._move(row, actor, "waiting-department")
        log.info(
            "work item %s sent to department %s (request %s): %s",
            row.ticket,
            department.code,
            request.id,
            ", ".join(
                f"{d.channel} {'delivered' if d.delivered else 'failed: ' + (d.error or '')}"
                for d in deliveries
            ),
        )
        return Sent(request, row, tuple(deliveries), self.reply_url(token))

    async def _store(self, request: DepartmentRequestRow) -> None:
        try:
            async with (
                AsyncSession(self.items.engine, expire_on_commit=False) as session,
                session.begin(),
            ):
                session.add(request)
        except SQLAlchemyError as exc:
            log.warning("department request not stored: %s", type(exc).__name__)
            raise NOT_STORED("the request was not stored; nothing was sent") from exc

    async def _delivered(
        self, request: DepartmentRequestRow, delivered: bool, error: str | None
    ) -> None:
        request.delivered, request.error = delivered, error
        try:
            async with AsyncSession(self.items.engine) as session, session.begin():
                await session.execute(
                    update(DepartmentRequestRow)
                    .where(DepartmentRequestRow.id == request.id)
                    .values(delivered=delivered, error=error)
                )
        except SQLAlchemyError as exc:
            log.warning(
                "department request %s outcome not stored: %s", request.id, type(exc).__name__
            )

    async def _move(self, row: WorkItemRow, actor: Actor, status: str) -> WorkItemRow:
        """The status move that goes with a request or a reply; a change that won the race
        meanwhile (resolved by someone) is left as it is."""
        try:
            return await self.items.set_status(row.id, None, actor, status)
        except ApiError as exc:
            log.info("work item %s not moved to %s: %s", row.ticket, status, exc.error)
            return row

    async def _deliver(self, department: Department, payload: Mapping[str, Any]) -> list[Delivery]:
        jobs: list[tuple[str, Any]] = []
        if department.email is not None:
            jobs.append(("email", self._mail(department.email, payload)))
        if department.webhook is not None:
            jobs.append(("webhook", self.webhook.post(department.webhook, payload)))
        results = await asyncio.gather(*(job for _, job in jobs), return_exceptions=True)
        deliveries = []
        for (channel, _), result in zip(jobs, results, strict=True):
            if isinstance(result, DeliveryFailed):
                deliveries.append(Delivery(channel, False, str(result)))
            elif isinstance(result, BaseException):
                # A bug of ours must not lose the item either: told, logged without details.
                log.error("department %s %s: %s", department.code, channel, type(result).__name__)
                deliveries.append(
                    Delivery(channel, False, f"internal error ({type(result).__name__})")
                )
            else:
                deliveries.append(Delivery(channel, True))
        return deliveries

    async def _mail(self, to: str, payload: Mapping[str, Any]) -> None:
        # Composed here, inside the job: a message that cannot be composed is that channel's
        # failure, not the request's.
        await self.mailer.send(self._email(to, payload))

    # --- what is sent ----------------------------------------------------------------------

    def item_summary(self, row: WorkItemRow) -> dict[str, Any]:
        """What a department sees of an item: no customer name, the number masked."""
        category = self.items.categories.get(row.category)
        return {
            "ticket": row.ticket,
            "title": row.title,
            "kind": row.kind,
            "status": row.status,
            "priority": row.priority,
            "category": row.category,
            "category_zh": category.label_zh if category is not None else row.category,
            "category_en": category.label_en if category is not None else row.category,
            "due_at": to_data(row.due_at),
            "phone": mask_phone(row.phone),
            "created_at": to_data(row.created_at),
        }

    async def notes(self, item_id: int) -> list[dict[str, Any]]:
        """The timeline's lines that say something (notes, messages, replies), oldest first."""
        async with AsyncSession(self.items.engine) as session:
            events = (
                await session.scalars(
                    select(WorkItemEventRow)
                    .where(WorkItemEventRow.item_id == item_id, WorkItemEventRow.text != "")
                    .order_by(WorkItemEventRow.at.desc(), WorkItemEventRow.id.desc())
                    .limit(MAX_NOTES)
                )
            ).all()
        return [
            {"at": to_data(e.at), "actor": e.actor_name, "kind": e.kind, "text": e.text}
            for e in reversed(events)
        ]

    async def _payload(
        self,
        row: WorkItemRow,
        department: Department,
        message: str,
        sender: str,
        token: str,
        request: DepartmentRequestRow,
    ) -> dict[str, Any]:
        return {
            "type": "work_item.department",
            "department": department.code,
            "department_zh": department.label_zh,
            "department_en": department.label_en,
            "request_id": request.id,
            "item": self.item_summary(row),
            "message": message,
            "sent_by": sender,
            "sent_at": to_data(request.sent_at),
            "notes": await self.notes(row.id),
            "reply_url": self.reply_url(token),
            "expires_at": to_data(request.expires_at),
        }

    def _local(self, value: Any) -> str:
        if not isinstance(value, str):
            return "-"
        zone = self.items.calendar.zone
        at = datetime.fromisoformat(value).astimezone(zone)
        return f"{at:%Y-%m-%d %H:%M} ({zone})"

    def _email(self, to: str, payload: Mapping[str, Any]) -> EmailMessage:
        item = payload["item"]
        message = EmailMessage()
        message["Subject"] = (
            f"[工单 Ticket {item['ticket']}] {item['title']}"
            f" → {payload['department_zh']} / {payload['department_en']}"
        )
        message["From"] = self.settings.smtp.sender
        message["To"] = to
        message["Date"] = format_datetime(self.items.clock())
        domain = self.settings.smtp.sender.rpartition("@")[2] or "localhost"
        message["Message-ID"] = make_msgid("work", domain=domain)
        message.set_content(self._email_text(payload))
        return message

    def _email_text(self, payload: Mapping[str, Any]) -> str:
        item = payload["item"]
        priority = item["priority"]
        lines = [
            f"{payload['sent_by']} 转交给{payload['department_zh']}一个工单。"
            "请处理并通过下面的链接回复。",
            f"{payload['sent_by']} sends {payload['department_en']} a work item: please answer "
            "through the link below.",
            "",
            f"工单号 Ticket:        {item['ticket']}",
            f"标题 Title:           {item['title']}",
            f"类型 Kind:            {KIND_ZH.get(item['kind'], item['kind'])} / {item['kind']}",
            f"类别 Category:        {item['category_zh']} / {item['category_en']}",
            f"优先级 Priority:      {PRIORITY_ZH.get(priority, priority)} / {priority}",
            f"期限 Deadline:        {self._local(item['due_at'])}",
            f"客户号码 Customer:    {item['phone'] or '-'}",
            "",
            "留言 Message:",
            payload["message"],
            "",
            f"回复链接 Reply link (有效期至 valid until {self._local(payload['expires_at'])}):",
            payload["reply_url"],
            "",
        ]
        if payload["notes"]:
            lines.append("工单记录 Timeline:")
            for note in payload["notes"]:
                lines.append(f"- {self._local(note['at'])} {note['actor']} [{note['kind']}]")
                lines.extend(f"  {text}" for text in note["text"].splitlines())
            lines.append("")
        lines.append("此链接即凭证。请勿转发给无关人员。The link is the key: do not pass it on.")
        return "\n".join(lines) + "\n"

    # --- the reply link ------------------------------------------------------------------

    async def open_link(self, token: str) -> Link:
        """The request, department and item of a token; 404 unknown, 410 expired."""
        if not TOKEN.fullmatch(token):
            raise NO_SUCH_LINK("this reply link is not known")
        try:
            async with AsyncSession(self.items.engine) as session:
                request = await session.scalar(
                    select(DepartmentRequestRow).where(
                        DepartmentRequestRow.token_hash == hash_token(token)
                    )
                )
                item = (
                    await session.get(WorkItemRow, request.item_id) if request is not None else None
                )
        except (SQLAlchemyError, OSError) as exc:
            # Answered here, not by the app's middleware, whose log line names the path.
            log.warning("reply link not looked up: %s", type(exc).__name__)
            raise NOT_STORED("the database cannot be reached right now; try again") from None
        if request is None or item is None:
            raise NO_SUCH_LINK("this reply link is not known")
        if request.expires_at <= self.items.clock():
            raise LINK_EXPIRED(
                "this reply link has expired", expired_at=to_data(request.expires_at)
            )
        known = self.by_code.get(request.department)
        label = (
            Label.of(known)
            if known is not None
            else Label(request.department, request.department, request.department)
        )
        return Link(request, label, item)

    async def view(self, link: Link) -> dict[str, Any]:
        """What the reply page shows."""
        try:
            notes = await self.notes(link.item.id)
            message = await self._message_of(link.request)
        except (SQLAlchemyError, OSError) as exc:
            log.warning(
                "reply page of request %s not read: %s", link.request.id, type(exc).__name__
            )
            raise NOT_STORED("the database cannot be reached right now; try again") from None
        return {
            "department": {
                "code": link.department.code,
                "label_zh": link.department.zh,
                "label_en": link.department.en,
            },
            "item": self.item_summary(link.item),
            "message": message,
            "sent_at": to_data(link.request.sent_at),
            "expires_at": to_data(link.request.expires_at),
            "answered_at": to_data(link.request.answered_at),
            "notes": notes,
        }

    async def _message_of(self, request: DepartmentRequestRow) -> str:
        async with AsyncSession(self.items.engine) as session:
            events: Sequence[WorkItemEventRow] = (
                await session.scalars(
                    select(WorkItemEventRow).where(
                        WorkItemEventRow.item_id == request.item_id,
                        WorkItemEventRow.kind == "department",
                    )
                )
            ).all()
        for found in events:
            if found.data.get("request_id") == request.id:
                return found.text
        return ""

    async def reply(self, link: Link, name: str, text: str) -> Link:
        """A department's answer through a link (``open_link``): on the timeline, the
        request answered, the item back in progress if it waited on a department, the owner
        told."""
        key = link.request.token_hash
        wait = self.limiter.retry_after(key)
        if wait is not None:
            error = TOO_MANY_REPLIES(
                f"at most {self.limiter.limit} replies an hour through one link; "
                f"try again in {int(wait)} s",
                retry_after=int(wait),
            )
            error.headers["Retry-After"] = str(int(wait))
            raise error
        self.limiter.count(key)
        department = link.department
        actor = Actor(None, f"{name} ({department})")
        try:
            row = await self.items.note(
                link.item.id,
                actor,
                text,
                kind="reply",
                department=department.code,
                name=name,
                request_id=link.request.id,
            )
            now = self.items.clock()
            async with AsyncSession(self.items.engine) as session, session.begin():
                await session.execute(
                    update(DepartmentRequestRow)
                    .where(
                        DepartmentRequestRow.id == link.request.id,
                        DepartmentRequestRow.answered_at.is_(None),
                    )
                    .values(answered_at=now)
                )
            if link.request.answered_at is None:
                link.request.answered_at = now
            if row.status == "waiting-department":
                row = await self._move(row, actor, "in-progress")
        except (SQLAlchemyError, OSError) as exc:
            log.warning("reply to request %s not stored: %s", link.request.id, type(exc).__name__)
            raise NOT_STORED("the reply was not stored; try again") from None
        log.info(
            "work item %s: reply from department %s (request %s)",
            row.ticket,
            department.code,
            link.request.id,
        )
        self._tell(row, department, name)
        return Link(link.request, department, row)

    def _tell(self, row: WorkItemRow, department: Label, name: str) -> None:
        """The owner's console; a pool item's team leaders."""
        if row.owner_id is not None:
            told: Sequence[int] = (row.owner_id,)
        else:
            team = self.items.teams().get(row.team_id) if row.team_id is not None else None
            told = sorted(team.leaders) if team is not None else ()
        data = self.items.item_data(row)
        for user_id in told:
            self.items.tell(
                user_id,
                {
                    "type": "work_item",
                    "event": "reply",
                    "item": data,
                    "department": department.code,
                    "name": name,
                },
            )
