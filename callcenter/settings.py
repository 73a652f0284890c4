"""One typed settings object: a TOML file, then ``CALLCENTER_*`` environment overrides.

Environment variables win over the file so that containers and CI can change one value
(``CALLCENTER_DATABASE__URL``, ``CALLCENTER_HTTP__PORT``...) without editing the file.
Nested keys use a double underscore; the PBX list is given as JSON in ``CALLCENTER_PBX``.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    FilePath,
    IPvAnyNetwork,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from callcenter.routing.policy import QueuePolicy, valid_queue_name

ENV_PREFIX = "CALLCENTER_"
DEFAULT_CONFIG_PATH = Path("config/callcenter.toml")
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///var/callcenter.db"
SUPPORTED_DATABASE_SCHEMES = ("sqlite+aiosqlite", "postgresql+asyncpg")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS_SPAN = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]-(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# A file name in /etc/asterisk (no folder: the service writes only there).
_CONF_FILE = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}\.conf$"


class PbxSettings(_Section):
    """One Asterisk PBX reached over AMI."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    host: str = "127.0.0.1"
    port: int = Field(default=5038, ge=1, le=65535)
    username: str = Field(min_length=1)
    secret: SecretStr
    ping_interval: float = Field(default=10.0, gt=0)
    action_timeout: float = Field(default=5.0, gt=0)
    reconnect_max_delay: float = Field(default=30.0, gt=0)
    # Asterisk's queue_log file of this PBX, when the service can read it (same machine or a
    # shared volume): calls that joined and ended while the service was away are recorded
    # from it after each (re)connect. Unset: such calls are not recorded.
    queue_log: Path | None = None
    # One AMI message (headers up to the blank line) may not grow past this many bytes: a
    # peer that never ends one would otherwise fill memory. Past it the link is dropped (the
    # reason logged) and reconnects. Asterisk's own messages stay far below 1 MiB.
    max_message_bytes: int = Field(default=1024 * 1024, ge=4096, le=64 * 1024 * 1024)
    # AMI over TLS (manager.conf: tlsenable = yes; `port` is then tlsbindaddr's, usually 5039).
    tls: bool = False
    # PEM file of the CA(s) that signed the PBX's certificate; unset: the system's CAs.
    tls_ca_file: FilePath | None = None
    # Check the certificate chain and that it names `host`. Off only for a test bench.
    tls_verify: bool = True
    # The PBX's /etc/asterisk as this service sees it (same machine or a shared volume).
    # The service writes the settings of the queues it manages to `queues_include` there
    # (queues.conf ends with "#tryinclude <it>"; on FreePBX queues_post_custom.conf) and their
    # exit keys to `exits_include` (extensions.conf: "#tryinclude <it>"). It owns both files
    # whole. Unset: this PBX's queue settings are shown but cannot be changed.
    asterisk_etc: Path | None = None
    queues_include: str = Field(default="queues_post_custom.conf", pattern=_CONF_FILE)
    exits_include: str = Field(default="callcenter_queue_exits.conf", pattern=_CONF_FILE)
    # Where announcements are written for this PBX, as this service sees the folder, and the
    # same folder as Asterisk sees it (what queues.conf names). Unset: no announcements.
    sounds_dir: Path | None = None
    sounds_dir_in_pbx: str = Field(
        default="/var/lib/asterisk/sounds/callcenter-announcements", pattern=r"^/[A-Za-z0-9_./-]+$"
    )
    # The PBX's voicemail spool (astspooldir/voicemail) as this service sees it: messages
    # left through a queue's voicemail exit are read from there. Unset: no voicemail exit.
    voicemail_spool: Path | None = None

    @field_validator("secret")
    @classmethod
    def _secret_not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("must not be empty")
        return value


class DatabaseSettings(_Section):
    # The URL can carry a password, so it is a secret: never logged whole.
    url: SecretStr = SecretStr(DEFAULT_DATABASE_URL)
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _known_driver(cls, value: SecretStr) -> SecretStr:
        url = normalise_database_url(value.get_secret_value())
        scheme = url.split(":", 1)[0]
        if scheme not in SUPPORTED_DATABASE_SCHEMES:
            raise ValueError(
                f"unsupported scheme {scheme!r}; use one of {', '.join(SUPPORTED_DATABASE_SCHEMES)}"
            )
        return SecretStr(url)


class HttpSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    # Where browsers reach the pages (scheme://host[:port]), when that is not the address the
    # request itself names (a proxy that rewrites Host). A state-changing request must come
    # from one of these or from the request's own host: other sites' pages are refused.
    public_origins: list[str] = Field(default_factory=list)
    # /metrics: on its own listener (default loopback:9464; port 0 serves it on the main
    # listener instead), and when metrics_token is set, only with "Authorization: Bearer".
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9464, ge=0, le=65535)
    metrics_token: SecretStr | None = None

    @field_validator("public_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if not re.fullmatch(r"https?://[A-Za-z0-9.\-\[\]:]+", origin):
                raise ValueError(f"{origin!r} is not scheme://host[:port]")
        return [origin.lower() for origin in value]

    @model_validator(mode="after")
    def _metrics_guarded(self) -> HttpSettings:
        if self.metrics_port == 0 and self.metrics_token is None:
            raise ValueError(
                "metrics_port = 0 serves /metrics on the main listener: set metrics_token too"
            )
        return self


class FastAgiSettings(_Section):
    # Loopback by default: FastAGI has no authentication of its own.
    host: str = "127.0.0.1"
    port: int = Field(default=4573, ge=1, le=65535)


class LiveSettings(_Section):
    """The live model and how often it is checked against the PBX."""

    # Seconds between full comparisons with QueueStatus while connected (self-healing).
    resync_interval: float = Field(default=60.0, gt=0)
    # Rolling window of the live service level, ASA, AHT and abandon rate.
    window_minutes: float = Field(default=15.0, gt=0)
    # Used until a queue's own `servicelevel` from queues.conf is known.
    service_level_seconds: int = Field(default=20, ge=1)
    # Callers who hang up sooner than this are left out of the abandon rate.
    short_abandon_seconds: float = Field(default=5.0, ge=0)
    # Channel variables with this prefix carry the IVR's data to the pop and the record.
    ivr_variable_prefix: str = Field(default="CC_", min_length=1)


class Disposition(_Section):
    """One wrap-up disposition code agents pick after a call."""

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    category: Literal["consultation", "complaint", "after-sales", "other"]
    label_zh: str = Field(min_length=1)
    label_en: str = Field(min_length=1)


DEFAULT_DISPOSITIONS = (
    Disposition(
        code="resolved", category="consultation", label_zh="已解答", label_en="Question answered"
    ),
    Disposition(
        code="info-sent",
        category="consultation",
        label_zh="已发送资料",
        label_en="Information sent",
    ),
    Disposition(
        code="complaint-logged",
        category="complaint",
        label_zh="投诉已登记",
        label_en="Complaint logged",
    ),
    Disposition(
        code="complaint-escalated",
        category="complaint",
        label_zh="投诉已升级",
        label_en="Complaint escalated",
    ),
    Disposition(
        code="repair-booked",
        category="after-sales",
        label_zh="已预约维修",
        label_en="Repair booked",
    ),
    Disposition(
        code="return-approved",
        category="after-sales",
        label_zh="已同意退换",
        label_en="Return approved",
    ),
    Disposition(
        code="callback-needed", category="other", label_zh="需回访", label_en="Call back needed"
    ),
    Disposition(code="other", category="other", label_zh="其他", label_en="Other"),
)


class RecordsSettings(_Section):
    """Call records (the durable writer and its spool) and wrap-up."""

    # Records wait here (append-only, fsync'd) until the database has them; one folder per
    # service process.
    spool_dir: Path = Path("var/spool")
    # At most this many records per database transaction...
    batch_size: int = Field(default=500, ge=1, le=10_000)
    # ...and at most this many seconds between a call's end and its write.
    batch_interval: float = Field(default=0.2, gt=0, le=60)
    # Longest pause between retries while the database is down.
    retry_max_delay: float = Field(default=5.0, gt=0, le=300)
    dispositions: tuple[Disposition, ...] = DEFAULT_DISPOSITIONS
    # Enforced wrap-up: queue name -> seconds the answering agent stays paused (reason
    # "wrap-up") after a call, unless they submit the wrap-up sooner.
    enforced_wrapup: dict[str, int] = Field(default_factory=dict)
    # How far back a PBX's queue_log is read for calls missing from the records.
    queue_log_backfill_hours: float = Field(default=24.0, gt=0, le=24 * 31)
    # A wrap-up's follow-up date: from yesterday (time zones) up to this many days ahead; a
    # date further out is a typing error (9999-12-31), not a plan.
    follow_up_horizon_days: int = Field(default=366, ge=1, le=3660)

    @field_validator("dispositions")
    @classmethod
    def _unique_codes(cls, value: tuple[Disposition, ...]) -> tuple[Disposition, ...]:
        codes = [d.code for d in value]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValueError(f"duplicate disposition code(s): {', '.join(duplicates)}")
        if not value:
            raise ValueError("at least one disposition is needed")
        return value

    @field_validator("enforced_wrapup")
    @classmethod
    def _positive_seconds(cls, value: dict[str, int]) -> dict[str, int]:
        bad = sorted(q for q, seconds in value.items() if not 1 <= seconds <= 3600)
        if bad:
            raise ValueError(f"wrap-up seconds must be 1..3600 (queue(s) {', '.join(bad)})")
        return value


class AuthSettings(_Section):
    """Logins and sessions of the people using the pages and APIs."""

    # A session lasts this long after login; logging out ends it at once.
    session_hours: float = Field(default=12.0, gt=0)
    # Send the session cookie only over HTTPS (turn on behind a TLS proxy).
    cookie_secure: bool = False
    # Failed logins per username and client address before answering 429 for a while.
    login_max_failures: int = Field(default=5, ge=1)
    login_window_seconds: float = Field(default=300.0, gt=0)
    # Failed logins from one client address, whatever the usernames, before answering 429:
    # guessing across many usernames is slowed, while a floor behind one NAT address at shift
    # change (many people, a few typos each) stays well under it.
    login_max_failures_per_address: int = Field(default=100, ge=1)
    # Reverse proxies (addresses or networks) whose X-Forwarded-For is believed; the login
    # limit and the logs then use the client's address, not the proxy's. Empty: none.
    trusted_proxies: list[IPvAnyNetwork] = Field(default_factory=list)


class ScreenPopSettings(_Section):
    """The caller's record popped on the ringing agent's browser."""

    # Region used to read numbers written without a country code (ISO 3166, e.g. CN).
    default_region: str = Field(default="CN", pattern=r"^[A-Z]{2}$")
    # The channel variable in which the IVR leaves the account number the caller typed.
    account_variable: str = Field(default="CC_ACCOUNT", min_length=1)
    # Calls of the caller shown on the card.
    history_size: int = Field(default=5, ge=0, le=50)
    # Seconds between reloads of users and customers (changes made by the CLI or replicas).
    refresh_seconds: float = Field(default=30.0, gt=0)
    # A follow-up date set in a wrap-up stays on the caller's card until it is overdue by
    # more than this many days (days in [ivr] timezone, the contact centre's calendar).
    follow_up_overdue_days: int = Field(default=30, ge=0, le=3650)
    # External CRM: "" for none, else a URL with {phone} and/or {account}, fetched with GET.
    crm_url_template: str = ""
    crm_timeout_seconds: float = Field(default=2.0, gt=0)
    # How long a pop waits for the CRM before it goes out from local data (incomplete).
    crm_pop_wait_seconds: float = Field(default=0.02, ge=0)
    crm_cache_seconds: float = Field(default=60.0, ge=0)
    # Consecutive CRM failures that open the circuit, and how long it then stays open.
    crm_failure_threshold: int = Field(default=5, ge=1)
    crm_open_seconds: float = Field(default=30.0, gt=0)


class IvrSettings(_Section):
    """The IVR hotline's decisions, read by the FastAGI routes on every call (no reload)."""

    # Business hours are local time in this zone (IANA name).
    timezone: str = "Asia/Shanghai"
    # Open intervals per weekday ("09:00-18:00", end may be "24:00"); a day not listed or
    # with an empty list is closed all day.
    hours: dict[str, list[str]] = Field(
        default_factory=lambda: {
            day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")
        }
    )
    # Whole days closed (public holidays), in the local zone.
    holidays: list[date] = Field(default_factory=list)
    # Make-up working days (调休): dates open with `make_up_hours` whatever their weekday
    # (a Saturday worked to bridge a holiday). A date both here and in holidays is refused.
    make_up_days: list[date] = Field(default_factory=list)
    make_up_hours: list[str] = Field(default_factory=lambda: ["09:00-18:00"])
    # Queue() priority per customer VIP level (a level not listed gets the priority of the
    # highest level listed below it; 0 = no VIP).
    vip_priorities: dict[int, int] = Field(default_factory=lambda: {1: 5, 2: 10, 3: 20})
    # Priority of a caller with an open complaint (the higher of this and the VIP priority).
    complaint_priority: int = Field(default=8, ge=0)
    # A route that has not answered within this budget answers its safe default.
    route_timeout_ms: int = Field(default=200, ge=10, le=5000)
    # AstDB family of the surge flags the dialplan reads: <family>/<queue> = 1.
    surge_db_family: str = Field(default="callcenter/surge", pattern=r"^[A-Za-z0-9_/-]+$")
    # Language when neither the caller's choice nor the customer's record says one.
    default_language: Literal["zh", "en"] = "zh"
    # Minutes from a callback request until its task is due.
    callback_due_minutes: int = Field(default=60, ge=0)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, spans in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"unknown weekday {day!r}; use {', '.join(WEEKDAYS)}")
            for span in spans:
                cls._check_span(day, span)
        return value

    @field_validator("make_up_hours")
    @classmethod
    def _valid_make_up_hours(cls, value: list[str]) -> list[str]:
        for span in value:
            cls._check_span("make_up_hours", span)
        return value

    @staticmethod
    def _check_span(where: str, span: str) -> None:
        # One rule for weekday and make-up spans: the IVR and the business calendar parse
        # both the same way.
        if not _HOURS_SPAN.fullmatch(span):
            raise ValueError(f"{where}: {span!r} is not HH:MM-HH:MM")
        start, end = span.split("-")
        if start >= end:
            raise ValueError(f"{where}: {span!r} ends before it starts")

    @model_validator(mode="after")
    def _holiday_or_make_up(self) -> IvrSettings:
        # A date both closed and worked is a typing error; guessing which was meant would
        # promise customers a deadline on a day nobody is in (or turn callers away).
        both = sorted(set(self.holidays) & set(self.make_up_days))
        if both:
            raise ValueError(
                "date(s) both in holidays and make_up_days: "
                + ", ".join(day.isoformat() for day in both)
            )
        return self


class SupervisorSettings(_Section):
    """Live queue control from the supervisor console."""

    # Dialplan context where extension <queue name> puts a caller into that queue: where a
    # "move to queue" sends the caller (Redirect to <context>,<queue>,1).
    move_context: str = Field(default="hotline-select", pattern=r"^[A-Za-z0-9_-]+$")
    # Caller ID shown on the supervisor's phone when it rings for listen/whisper/barge.
    spy_caller_id: str = Field(
        default="Supervisor <spy>", max_length=80, pattern=r"^[^\x00-\x1f\x7f]*$"
    )


class RoutingSettings(_Section):
    """Overflow and surge routing (docs: config/callcenter.example.toml [routing])."""

    enabled: bool = True
    # Seconds between evaluations of every queue's policy (the lag of a move is at most this
    # plus one AMI round trip).
    interval: float = Field(default=0.5, gt=0, le=10)
    # Seconds a replica's per-queue lease lasts without renewal (renewed every interval):
    # after a holder dies, another replica takes its queues over this long after its last
    # round. Default (unset): 3 x interval. At least 2 x interval.
    lease_seconds: float | None = Field(default=None, gt=0, le=300)
    # Per queue name: triggers, levels, hysteresis, cooldown and surge actions. The live API
    # (PUT /api/routing/policies/{queue}) stores edits that win over these.
    queues: dict[str, QueuePolicy] = Field(default_factory=dict)

    @field_validator("queues")
    @classmethod
    def _queue_names(cls, value: dict[str, QueuePolicy]) -> dict[str, QueuePolicy]:
        bad = [name for name in value if not valid_queue_name(name)]
        if bad:
            raise ValueError(f"not a queue name: {', '.join(map(repr, bad))}")
        return value

    @model_validator(mode="after")
    def _lease_outlasts_rounds(self) -> RoutingSettings:
        if self.lease_seconds is not None and self.lease_seconds < 2 * self.interval:
            raise ValueError(
                f"lease_seconds ({self.lease_seconds:g}) must be at least twice "
                f"interval ({self.interval:g}): a lease must outlive a round"
            )
        return self

    @property
    def lease(self) -> float:
        return self.lease_seconds if self.lease_seconds is not None else 3 * self.interval


class NotReadyCodeSeed(_Section):
    """A not-ready code created at first start (admins edit codes on /admin after that)."""

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    label_zh: str = Field(min_length=1, max_length=80)
    label_en: str = Field(min_length=1, max_length=80)
    paid: bool = True
    limit_seconds: int | None = Field(default=None, ge=1, le=86_400)
    max_agents: int | None = Field(default=None, ge=1, le=10_000)


DEFAULT_CODES = (
    NotReadyCodeSeed(code="break", label_zh="小休", label_en="Break", limit_seconds=900),
    NotReadyCodeSeed(
        code="lunch",
        label_zh="午餐",
        label_en="Lunch",
        paid=False,
        limit_seconds=3600,
        max_agents=5,
    ),
    NotReadyCodeSeed(code="training", label_zh="培训", label_en="Training"),
    NotReadyCodeSeed(code="meeting", label_zh="会议", label_en="Meeting", limit_seconds=3600),
    NotReadyCodeSeed(code="outbound", label_zh="回访外呼", label_en="Outbound follow-up"),
    # The short break after the abusive-caller button (screening.abusive_code; the screening
    # room returns the agent to ready after screening.abusive_break_seconds).
    NotReadyCodeSeed(
        code="abusive-caller",
        label_zh="恶意来电后休息",
        label_en="After an abusive caller",
        limit_seconds=120,
    ),
)


class AgentsSettings(_Section):
    """Agents and teams: sign-in at any phone, skills, coded states, after-call work."""

    # Queues that serve one language: only agents with that language skill join them.
    queue_languages: dict[str, Literal["zh", "en"]] = Field(default_factory=dict)
    # After-call work by Asterisk: queue -> its `wrapuptime` seconds in queues.conf. The
    # console and the wallboard show those seconds as ACW. A queue is either here or in
    # records.enforced_wrapup (the service's own wrap-up), never both.
    asterisk_wrapup: dict[str, int] = Field(default_factory=dict)
    # Not-ready codes created at the first start when there are none yet.
    initial_codes: tuple[NotReadyCodeSeed, ...] = DEFAULT_CODES
    # Seconds between checks of codes held over their limit, and of console sign-ins whose
    # web session has ended (those agents are signed out).
    check_seconds: float = Field(default=5.0, gt=0, le=300)
    # Wrong PINs at the phone's sign-in feature code, per agent number, before it is locked
    # for the window.
    pin_max_failures: int = Field(default=5, ge=1, le=100)
    pin_window_seconds: float = Field(default=900.0, gt=0)

    @field_validator("queue_languages", "asterisk_wrapup")
    @classmethod
    def _queue_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        bad = [name for name in value if not valid_queue_name(name)]
        if bad:
            raise ValueError(f"not a queue name: {', '.join(map(repr, bad))}")
        return value

    @field_validator("asterisk_wrapup")
    @classmethod
    def _wrapup_seconds(cls, value: dict[str, int]) -> dict[str, int]:
        bad = sorted(q for q, seconds in value.items() if not 1 <= seconds <= 3600)
        if bad:
            raise ValueError(f"wrap-up seconds must be 1..3600 (queue(s) {', '.join(bad)})")
        return value


_DURATION = re.compile(r"^[1-9][0-9]{0,4}(m|h|d|wh|wd)$")
WORK_KINDS = ("follow-up", "callback", "complaint", "inquiry")
WORK_PRIORITIES = ("urgent", "high", "normal", "low")


class WorkCategory(_Section):
    """A category of work item; `priority` (if set) is the least priority an item of it gets:
    seed 003 puts account security and major complaints first."""

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    label_zh: str = Field(min_length=1, max_length=80)
    label_en: str = Field(min_length=1, max_length=80)
    priority: Literal["urgent", "high", "normal", "low"] | None = None


DEFAULT_WORK_CATEGORIES = (
    WorkCategory(
        code="account-security", label_zh="账户安全", label_en="Account security", priority="urgent"
    ),
    WorkCategory(
        code="major-complaint", label_zh="重大投诉", label_en="Major complaint", priority="urgent"
    ),
    WorkCategory(code="service", label_zh="服务", label_en="Service"),
    WorkCategory(code="billing", label_zh="账单费用", label_en="Billing"),
    WorkCategory(code="product", label_zh="产品", label_en="Product"),
    WorkCategory(code="delivery", label_zh="物流配送", label_en="Delivery"),
    WorkCategory(code="technical", label_zh="技术问题", label_en="Technical"),
    WorkCategory(code="callback", label_zh="回电", label_en="Callback"),
    WorkCategory(code="satisfaction", label_zh="满意度回访", label_en="Satisfaction call"),
    WorkCategory(code="other", label_zh="其他", label_en="Other"),
)


class DeadlineRule(_Section):
    """The promise for items of a kind and priority ("*" = any). Durations: "30m", "2h",
    "3d" (as the clock runs), "4wh" (working hours), "2wd" (working days: the end of the
    working day that many working days on), by the business calendar of the IVR's hours,
    holidays and make-up days."""

    kind: Literal["follow-up", "callback", "complaint", "inquiry", "*"] = "*"
    priority: Literal["urgent", "high", "normal", "low", "*"] = "*"
    first_response: str | None = Field(default=None, pattern=_DURATION.pattern)
    resolution: str = Field(pattern=_DURATION.pattern)


DEFAULT_DEADLINES = (
    DeadlineRule(kind="complaint", priority="urgent", first_response="2h", resolution="24h"),
    DeadlineRule(kind="complaint", priority="high", first_response="4wh", resolution="2wd"),
    DeadlineRule(kind="complaint", first_response="1wd", resolution="3wd"),
    DeadlineRule(kind="callback", priority="urgent", resolution="1h"),
    DeadlineRule(kind="callback", resolution="4wh"),
    DeadlineRule(priority="urgent", first_response="2h", resolution="8wh"),
    DeadlineRule(priority="high", resolution="1wd"),
    DeadlineRule(resolution="2wd"),
)


class EscalationTier(_Section):
    """At this share of the promised time, the item escalates to this tier: the owner (a
    warning), the leader of the item's team, or every holder of the manager role."""

    share: float = Field(gt=0, le=10)
    to: Literal["owner", "team-leader", "manager"]


class Department(_Section):
    """A department outside the tool (technical, logistics...): items reach it by e-mail
    and/or a webhook, with a reply link that adds its answer to the item's timeline."""

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    label_zh: str = Field(min_length=1, max_length=80)
    label_en: str = Field(min_length=1, max_length=80)
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    webhook: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")


class SmtpSettings(_Section):
    """The mail relay for department requests and scheduled reports (none: no mail)."""

    host: str | None = None
    port: int = Field(default=25, ge=1, le=65535)
    sender: str = "callcenter@localhost"
    starttls: bool = False
    username: str | None = None
    password: SecretStr | None = None


class CallbackSettings(_Section):
    """Callbacks the service dials: agent first, then the customer."""

    enabled: bool = True
    # Seconds between scheduler rounds (due callbacks, offers that ran out, attempts).
    interval: float = Field(default=5.0, gt=0, le=300)
    # Where the agent's leg is sent to dial the customer: extension = the customer's
    # number, in this context of the customer's PBX (its outbound route).
    outbound_context: str = Field(default="callcenter-callback", pattern=r"^[A-Za-z0-9_-]+$")
    # Caller ID the customer sees (the hotline number).
    caller_id: str = Field(default="", max_length=80, pattern=r"^[^\x00-\x1f\x7f]*$")
    # Seconds the agent's phone rings before the attempt counts as missed by the agent.
    agent_ring_seconds: int = Field(default=20, ge=5, le=120)
    # Seconds an offer stays on an agent's console before it goes to someone else.
    offer_seconds: int = Field(default=60, ge=5, le=900)
    # Tries at the customer (no answer, busy, failed) before the item is closed as
    # unreachable, and minutes between them.
    attempts: int = Field(default=3, ge=1, le=20)
    retry_minutes: float = Field(default=10.0, ge=0.05, le=1440)
    # Callbacks are dialled only while no more than this many callers wait in the item's
    # queue (a surge never makes callbacks compete with waiting callers).
    max_waiting: int = Field(default=0, ge=0)
    # Queues whose callbacks ring the agent at once (no preview to accept).
    auto_dial_queues: list[str] = Field(default_factory=list)


class WorkSettings(_Section):
    """Work items: follow-ups, callbacks, complaints and inquiries."""

    categories: tuple[WorkCategory, ...] = DEFAULT_WORK_CATEGORIES
    # First rule that matches (kind, priority) wins: list specific rules before "*" ones.
    deadlines: tuple[DeadlineRule, ...] = DEFAULT_DEADLINES
    escalation: tuple[EscalationTier, ...] = (
        EscalationTier(share=0.8, to="owner"),
        EscalationTier(share=1.0, to="team-leader"),
        EscalationTier(share=1.5, to="manager"),
    )
    # The role whose holders are the manager tier (seed 003's management).
    manager_role: str = "supervisor"
    # Seconds between escalation sweeps.
    sweep_seconds: float = Field(default=30.0, gt=0, le=3600)
    # Team (by name) whose pool gets items nobody else is named for: IVR callbacks of a
    # queue no team serves, satisfaction calls. None: the first team serving the queue.
    default_team: str | None = None
    # Share (0..1) of resolved complaints that get a satisfaction return call (seed 003),
    # for this team's pool (default: the complaint's team).
    satisfaction_share: float = Field(default=0.0, ge=0, le=1)
    satisfaction_team: str | None = None
    departments: tuple[Department, ...] = ()
    # Days a department's reply link stays valid.
    reply_days: int = Field(default=14, ge=1, le=365)
    # Public base URL of this service for reply links (e.g. https://cc.example.com).
    public_url: str = Field(default="http://localhost:8080", pattern=r"^https?://[^\s]+$")
    smtp: SmtpSettings = SmtpSettings()
    callbacks: CallbackSettings = CallbackSettings()

    @model_validator(mode="after")
    def _known_codes(self) -> WorkSettings:
        codes = [c.code for c in self.categories]
        if len(set(codes)) != len(codes):
            raise ValueError("work.categories: duplicate code")
        if not any(r.kind == "*" and r.priority == "*" for r in self.deadlines):
            raise ValueError('work.deadlines needs a rule for kind "*" and priority "*"')
        shares = [t.share for t in self.escalation]
        if shares != sorted(shares) or len(set(shares)) != len(shares):
            raise ValueError("work.escalation: tiers in rising order of share")
        departments = [d.code for d in self.departments]
        if len(set(departments)) != len(departments):
            raise ValueError("work.departments: duplicate code")
        for department in self.departments:
            if department.email is None and department.webhook is None:
                raise ValueError(f"department {department.code}: give an email or a webhook")
        return self


class QueueConfSettings(_Section):
    """Queue settings of managed queues (callcenter/queueconf, docs/queue-settings.md)."""

    # Seconds between checks that the include file and Asterisk's live values still match
    # the desired state (a hand edit, a restart): drift is shown and repaired.
    check_seconds: float = Field(default=60.0, gt=0, le=3600)
    # Seconds to wait for Asterisk to answer a reload and the read-back after it.
    reload_timeout: float = Field(default=10.0, gt=0, le=120)
    # Largest upload of a recorded announcement (bytes, before conversion).
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024)


class ScreeningSettings(_Section):
    """Caller screening (callcenter/screening)."""

    # Callers whose number is withheld: put through as anyone ("allow"), told a message and
    # let go ("message"), or sent to a queue of their own ("queue", withheld_queue).
    withheld: Literal["allow", "message", "queue"] = "allow"
    withheld_queue: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,80}$")
    # The not-ready break an agent gets after the abusive-caller button (seconds, code).
    abusive_break_seconds: int = Field(default=120, ge=0, le=3600)
    abusive_code: str = Field(default="abusive-caller", pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    # Where the caller is sent to hear the warning and be hung up on (dialplan/screening.conf).
    warning_context: str = Field(default="callcenter-abusive", pattern=r"^[A-Za-z0-9_-]+$")
    # Seconds between re-reads of the blocked numbers from the database (another replica or
    # the database itself may change them; this replica's own changes apply at once).
    refresh_seconds: float = Field(default=30.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _queue_named(self) -> ScreeningSettings:
        if self.withheld == "queue" and self.withheld_queue is None:
            raise ValueError('withheld = "queue" needs withheld_queue (the queue to send to)')
        return self


class VoicemailSettings(_Section):
    """Voicemail exits of queues (callcenter/voicemail)."""

    # voicemail.conf context holding the queues' mailboxes (one per queue, named like it).
    context: str = Field(default="callcenter", pattern=r"^[A-Za-z0-9_-]+$")
    # Remove a message from the PBX's spool once it is stored (the database keeps it): the
    # mailboxes never fill up (app_voicemail's maxmsg).
    remove_from_spool: bool = True
    # Seconds between sweeps of the spool for messages whose FastAGI call was lost (the
    # service was down); 0: no sweep. A sweep takes only messages older than sweep_after
    # seconds (the FastAGI call takes the fresh ones).
    sweep_seconds: float = Field(default=300.0, ge=0, le=86400)
    sweep_after: float = Field(default=120.0, ge=10, le=86400)
    # A message larger than this (bytes of its WAV) is left in the spool and logged.
    max_message_bytes: int = Field(default=16 * 1024 * 1024, ge=64 * 1024, le=512 * 1024 * 1024)


# A phone as Dial() takes it: technology/resource (PJSIP/1001, SIP/alice, Local/x@ctx).
_INTERFACE = re.compile(r"[A-Za-z][A-Za-z0-9]*/[A-Za-z0-9_.@+-]{1,80}")


class TransferTargetSettings(_Section):
    """One entry of the transfer directory's seed (``[[transfers.target]]``): a team or a
    department an agent may pass a call to. Stored in the database at the first start;
    admins edit it there afterwards (/api/transfer-targets)."""

    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    label_zh: str = Field(min_length=1, max_length=80)
    label_en: str = Field(min_length=1, max_length=80)
    # Seed 003's pyramid: 1 first line, 2 specialist teams, 3 management.
    tier: int = Field(default=2, ge=1, le=9)
    kind: Literal["queue", "interfaces", "external"] = "queue"
    queue: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,80}$")
    interfaces: list[str] = Field(default_factory=list)
    number: str | None = Field(default=None, pattern=r"^\+?[0-9]{2,20}$")
    trunk_context: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,80}$")
    # The target "escalate" picks in its tier.
    escalation: bool = False


class TransfersSettings(_Section):
    """Transfers and escalation from the agent console (callcenter/transfers)."""

    # The dialplan context the PBX is sent to for every transfer (dialplan/transfer.conf):
    # its extension 9<7 digits> is a transfer the service knows; <hold_extension> is hold.
    context: str = Field(default="callcenter-transfer", pattern=r"^[A-Za-z0-9_-]+$")
    hold_extension: str = Field(default="8", pattern=r"^[0-8][0-9]{0,3}$")
    # Seconds a transfer target (a phone, a team's phones, an outside number) rings.
    ring_seconds: int = Field(default=20, ge=5, le=120)
    # Seconds a caller transferred into a queue waits there at most.
    queue_timeout: int = Field(default=600, ge=10, le=7200)
    # A caller transferred into a queue keeps their priority plus this: they have waited
    # already, so they go before callers of the same priority who have not been served yet.
    queue_priority_boost: int = Field(default=1, ge=0, le=10)
    # "Escalate" with no target in the next tier goes to the agent's team leader (warm).
    escalate_to_team_leader: bool = True
    target: list[TransferTargetSettings] = Field(default_factory=list)

    @field_validator("target")
    @classmethod
    def _targets_complete(cls, value: list[TransferTargetSettings]) -> list[TransferTargetSettings]:
        slugs = [t.slug for t in value]
        twice = sorted({s for s in slugs if slugs.count(s) > 1})
        if twice:
            raise ValueError(f"transfer target slug(s) used twice: {', '.join(twice)}")
        for t in value:
            bad = [i for i in t.interfaces if not _INTERFACE.fullmatch(i)]
            if bad:
                raise ValueError(f"transfer target {t.slug}: not an interface: {bad[0]!r}")
            if t.kind == "queue" and not t.queue:
                raise ValueError(f"transfer target {t.slug}: kind queue needs queue")
            if t.kind == "interfaces" and not t.interfaces:
                raise ValueError(f"transfer target {t.slug}: kind interfaces needs interfaces")
            if t.kind == "external" and not (t.number and t.trunk_context):
                raise ValueError(
                    f"transfer target {t.slug}: kind external needs number and trunk_context"
                )
        return value


class ReportsSettings(_Section):
    """Reports (callcenter/reports): roll-ups, targets, scheduled exports. Days, weeks and
    months are the contact centre's, in ``[ivr] timezone``."""

    # Seconds between two refreshes of the roll-ups from the records that changed.
    refresh_seconds: float = Field(default=5.0, gt=0, le=3600)
    # Seconds between two recomputations of today's agent-state roll-ups (states still held).
    states_refresh_seconds: float = Field(default=60.0, gt=0, le=3600)
    # First-contact resolution: an answered call is resolved at first contact when the same
    # number does not call again (any queue) within this many days.
    fcr_days: int = Field(default=7, ge=1, le=90)
    # Service-level threshold T in seconds (answered within T), per queue and by default.
    # Changing it applies to roll-ups computed from then on: run `callcenter reports rebuild`.
    service_level_seconds: int = Field(default=20, ge=1, le=3600)
    queue_service_level_seconds: dict[str, int] = Field(default_factory=dict)
    # Targets: a figure on the wrong side of its target is marked in every report.
    service_level_target: float = Field(default=0.80, ge=0, le=1)
    queue_service_level_target: dict[str, float] = Field(default_factory=dict)
    satisfaction_target: float = Field(default=0.90, ge=0, le=1)
    complaint_rate_target: float = Field(default=0.05, ge=0, le=1)
    abandon_rate_target: float = Field(default=0.05, ge=0, le=1)
    # Daily work logs submitted on time ÷ logs owed (seed 001: 工作日志填写情况).
    worklog_completion_target: float = Field(default=0.95, ge=0, le=1)
    # Intervals shorter than a day (15 minutes, an hour) over at most this many days.
    max_days_by_slot: int = Field(default=92, ge=1, le=366)
    # A report is for people: at most this many rows (periods x keys); more is refused.
    max_rows: int = Field(default=10_000, ge=100, le=1_000_000)
    # Folder the scheduled daily, weekly and monthly reports are written to (none: off).
    schedule_dir: Path | None = None
    # Minutes after midnight a day counts as ended for the scheduled reports (calls still
    # going on at midnight are recorded when they end).
    schedule_grace_minutes: int = Field(default=60, ge=0, le=24 * 60)
    # Addresses the scheduled reports are also sent to through [work.smtp] (empty: none).
    schedule_mail_to: list[str] = Field(default_factory=list)

    @field_validator("queue_service_level_seconds")
    @classmethod
    def _thresholds(cls, value: dict[str, int]) -> dict[str, int]:
        bad = sorted(q for q, seconds in value.items() if not 1 <= seconds <= 3600)
        if bad:
            raise ValueError(f"service-level seconds must be 1..3600 (queue(s) {', '.join(bad)})")
        return value

    @field_validator("queue_service_level_target")
    @classmethod
    def _targets(cls, value: dict[str, float]) -> dict[str, float]:
        bad = sorted(q for q, share in value.items() if not 0 <= share <= 1)
        if bad:
            raise ValueError(f"service-level targets must be 0..1 (queue(s) {', '.join(bad)})")
        return value

    def threshold_of(self, queue: str) -> int:
        return self.queue_service_level_seconds.get(queue, self.service_level_seconds)

    def sl_target_of(self, queue: str) -> float:
        return self.queue_service_level_target.get(queue, self.service_level_target)


class ShiftsSettings(_Section):
    """Shifts (callcenter/shifts): the rota. Times are the contact centre's, in ``[ivr]
    timezone``; supervisors edit the rota on /shifts (the configuration seeds it)."""

    class Shift(_Section):
        """One ``[[shifts.shift]]``: stored at a start when no shift of its name was ever
        stored (not even one deleted since); after that supervisors edit it on /shifts and
        the configuration no longer changes it. Unknown users and teams are logged and
        skipped."""

        name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
        label: str = Field(min_length=1, max_length=80, pattern=r"^[^\x00-\x1f\x7f]*$")
        # Local times "HH:MM"; an end not after the start is the next day (equal: refused).
        start: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
        end: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
        # Weekdays the shift STARTS on (a Friday night shift is "fri").
        days: list[str] = Field(min_length=1, max_length=7)
        users: list[str] = Field(default_factory=list, max_length=200)
        teams: list[str] = Field(default_factory=list, max_length=200)

        @field_validator("days")
        @classmethod
        def _weekdays(cls, value: list[str]) -> list[str]:
            for day in value:
                if day not in WEEKDAYS:
                    raise ValueError(f"unknown weekday {day!r}; use {', '.join(WEEKDAYS)}")
            return list(dict.fromkeys(value))

        @model_validator(mode="after")
        def _has_length(self) -> ShiftsSettings.Shift:
            if self.start == self.end:
                raise ValueError(f"shift {self.name}: start and end are both {self.start}")
            return self

    # Minutes before a shift's end its people count as "ending soon" (/shifts, /api/shifts/now).
    ending_soon_minutes: int = Field(default=30, ge=1, le=12 * 60)
    shift: list[Shift] = Field(default_factory=list, max_length=200)

    @field_validator("shift")
    @classmethod
    def _names_once(cls, value: list[Shift]) -> list[Shift]:
        names = [s.name for s in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"shift name(s) used twice: {', '.join(twice)}")
        return value


class HandoverSettings(_Section):
    """Handover (callcenter/handover): handover documents and the ownerless check."""

    # How often the ownerless check runs (open items of someone off shift or disabled with
    # nothing handed over); 0 turns it off.
    check_seconds: float = Field(default=60.0, ge=0, le=3600)
    # How long such items stay listed to the team leaders before going back to the pool.
    grace_minutes: int = Field(default=30, ge=0, le=24 * 60)
    # Key contacts of a handover draft: customers the agent talked with most in these days.
    contact_days: int = Field(default=30, ge=1, le=365)
    contact_limit: int = Field(default=10, ge=0, le=100)
    # A customer tag naming the dedicated agent: "<prefix><username>" (e.g. "agent:wang").
    dedicated_tag_prefix: str = Field(default="agent:", max_length=40)
    # A break between two shifts (08-12, 13-17): the owner is not off shift while their next
    # shift starts within this many minutes of the last one's end.
    shift_gap_minutes: int = Field(default=180, ge=0, le=24 * 60)


class WorklogSettings(_Section):
    """Work log (callcenter/worklog): daily logs, their deadline and the supervisors' check."""

    class Category(_Section):
        """What a problem or suggestion written in a log is about (the roll-up groups by
        it)."""

        code: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
        label_zh: str = Field(min_length=1, max_length=80)
        label_en: str = Field(min_length=1, max_length=80)

    # A log is on time when submitted within this many hours of the end of the span it
    # covers (the next day's midnight, or the end of a night shift running past it).
    due_hours: float = Field(default=12.0, gt=0, le=24 * 14)
    # How far back an agent may create a log (days before today); a log sent back is
    # edited and resubmitted whatever its age.
    max_back_days: int = Field(default=31, ge=0, le=366)
    # The supervisors' check (主管定期检查): per agent and review period (a day or an ISO
    # week), the ceiling of this share of the agent's logs submitted in the period are
    # checked, at least one when above 0 (1.0: all), picked by a stable hash of the log (the
    # same on every replica). The review list's default window follows the period.
    review_share: float = Field(default=1.0, ge=0.0, le=1.0)
    review_period: Literal["day", "week"] = "day"
    categories: tuple[Category, ...] = (
        Category(code="system", label_zh="系统", label_en="System"),
        Category(code="process", label_zh="流程", label_en="Process"),
        Category(code="customer", label_zh="客户", label_en="Customer"),
        Category(code="product", label_zh="产品", label_en="Product"),
        Category(code="other", label_zh="其他", label_en="Other"),
    )

    @field_validator("categories")
    @classmethod
    def _unique_categories(cls, value: tuple[Category, ...]) -> tuple[Category, ...]:
        codes = [c.code for c in value]
        if not codes:
            raise ValueError("name at least one category")
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValueError(f"duplicate worklog category code(s): {', '.join(duplicates)}")
        return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True
    )

    pbx: list[PbxSettings] = Field(default_factory=list)
    database: DatabaseSettings = DatabaseSettings()
    http: HttpSettings = HttpSettings()
    fastagi: FastAgiSettings = FastAgiSettings()
    live: LiveSettings = LiveSettings()
    ivr: IvrSettings = IvrSettings()
    auth: AuthSettings = AuthSettings()
    screenpop: ScreenPopSettings = ScreenPopSettings()
    records: RecordsSettings = RecordsSettings()
    supervisor: SupervisorSettings = SupervisorSettings()
    routing: RoutingSettings = RoutingSettings()
    agents: AgentsSettings = AgentsSettings()
    work: WorkSettings = WorkSettings()
    queueconf: QueueConfSettings = QueueConfSettings()
    screening: ScreeningSettings = ScreeningSettings()
    voicemail: VoicemailSettings = VoicemailSettings()
    transfers: TransfersSettings = TransfersSettings()
    reports: ReportsSettings = ReportsSettings()
    shifts: ShiftsSettings = ShiftsSettings()
    handover: HandoverSettings = HandoverSettings()
    worklog: WorklogSettings = WorklogSettings()
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("pbx")
    @classmethod
    def _unique_pbx_names(cls, value: list[PbxSettings]) -> list[PbxSettings]:
        names = [p.name for p in value]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate PBX name(s): {', '.join(duplicates)}")
        return value

    @model_validator(mode="after")
    def _one_wrapup_per_queue(self) -> Settings:
        both = sorted(set(self.records.enforced_wrapup) & set(self.agents.asterisk_wrapup))
        if both:
            raise ValueError(
                f"queue(s) {', '.join(both)} in both records.enforced_wrapup and "
                "agents.asterisk_wrapup: choose the service's wrap-up or Asterisk's, not both"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file arrives as init values; the environment must override it.
        return (env_settings, init_settings)

    def secrets(self) -> list[str]:
        """Every secret value, so the log filter can mask them."""
        values = [p.secret.get_secret_value() for p in self.pbx]
        password = _password_in_url(self.database.url.get_secret_value())
        if password:
            values.append(password)
        for secret in (self.http.metrics_token, self.work.smtp.password):
            if secret is not None:
                values.append(secret.get_secret_value())
        return [v for v in values if v]


def normalise_database_url(url: str) -> str:
    """Accept the usual spellings and pick the async driver we ship."""
    for plain, driver in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def _password_in_url(url: str) -> str | None:
    from sqlalchemy.engine import make_url

    try:
        password = make_url(url).password
        return None if password is None else str(password)
    except Exception:
        return None


@dataclass(frozen=True)
class ConfigProblem:
    """One mistake in the configuration, named by where it is and what is wrong."""

    source: str
    key: str
    problem: str

    def __str__(self) -> str:
        where = f"{self.source}: {self.key}" if self.key else self.source
        return f"{where}: {self.problem}"


class ConfigError(Exception):
    def __init__(self, problems: list[ConfigProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def resolve_config_path(explicit: Path | None) -> tuple[Path | None, bool]:
    """The file to read and whether the user named it (a named file must exist)."""
    if explicit is not None:
        return explicit, True
    from_env = os.environ.get(ENV_PREFIX + "CONFIG")
    if from_env:
        return Path(from_env), True
    return (DEFAULT_CONFIG_PATH, False) if DEFAULT_CONFIG_PATH.exists() else (None, False)


def load_settings(explicit: Path | None = None) -> tuple[Settings, Path | None]:
    """Read and validate the configuration; raise ConfigError listing every problem."""
    path, named = resolve_config_path(explicit)
    data = _read_toml(path, named) if path is not None else {}
    try:
        return Settings(**data), path
    except ValidationError as exc:
        raise ConfigError(_problems_from(exc, path)) from None


def _read_toml(path: Path, named: bool) -> dict[str, Any]:
    source = str(path)
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        if named:
            raise ConfigError([ConfigProblem(source, "", "file not found")]) from None
        return {}
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message names line and column, never the value.
        raise ConfigError([ConfigProblem(source, "", f"not valid TOML: {exc}")]) from None
    except OSError as exc:
        raise ConfigError([ConfigProblem(source, "", f"cannot read: {exc.strerror}")]) from None


def _problems_from(exc: ValidationError, path: Path | None) -> list[ConfigProblem]:
    env_keys = {k[len(ENV_PREFIX) :].lower() for k in os.environ if k.startswith(ENV_PREFIX)}
    problems = []
    # include_input=False: a rejected value may be a secret.
    for error in exc.errors(include_input=False, include_url=False):
        key = _dotted(error["loc"])
        loc = [str(part).lower() for part in error["loc"]]
        overridden = next(
            (k for k in sorted(env_keys) if loc[: len(k.split("__"))] == k.split("__")), None
        )
        if overridden is not None:
            source = f"environment {ENV_PREFIX}{overridden.upper()}"
        else:
            source = str(path) if path is not None else "built-in defaults"
        problems.append(ConfigProblem(source, key, _plain_message(error["msg"])))
    return problems


def _dotted(loc: tuple[int | str, ...]) -> str:
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key


def _plain_message(msg: str) -> str:
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return "unknown key" if msg == "Extra inputs are not permitted" else msg
