"""Queue settings as the service stores them, and what they become in Asterisk's files (pure).

A managed queue's settings are a ``QueueSpec``: every field is optional, ``None`` meaning "as
the PBX's own queues.conf has it". The service writes the fields that are set as a
``[<queue>](+)`` section of the include file that queues.conf reads last, so they win over
the queue's own lines and its template, and nothing else of the queue is touched (members,
rules, whatever the customer's config says). Exit keys become one dialplan context per queue
in a second include file, named by the queue's ``context`` (Asterisk's EXITWITHKEY).

Everything here is pure: rendering, the read-back comparison and the refusals that need
only values. The room (``apply.py``) does the I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from callcenter.live.changes import QueueParamsView

# Asterisk 22's strategies (app_queue.c ``strategies[]``). Any other word is silently read
# as ringall by Asterisk, so the service refuses it instead.
Strategy = Literal[
    "ringall",
    "leastrecent",
    "fewestcalls",
    "random",
    "rrmemory",
    "rrordered",
    "linear",
    "wrandom",
]
STRATEGIES: tuple[str, ...] = get_args(Strategy)
# Queue names the service manages: what is safe as a config section, a dialplan extension
# and a file name part. A queue with another name is shown but not managed.
QUEUE_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,80}$"
QueueName = Annotated[str, Field(pattern=QUEUE_NAME_PATTERN)]
ExitKey = Annotated[str, Field(pattern=r"^[0-9]$")]
MusicClass = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,80}$")]
Seconds = Annotated[int, Field(ge=0, le=3600)]
EXITS_CONTEXT_PREFIX = "callcenter-exits-"

HEADER = (
    "; Written by callcenter: the settings of the queues it manages (docs/queue-settings.md).\n"
    "; Edits here are overwritten: change these queues from the wallboard or the API.\n"
)


class QueueSpec(BaseModel):
    """What a supervisor set for one queue; ``None``: as queues.conf has it."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    strategy: Strategy | None = None
    # Seconds a member's phone rings before the next is tried (0 would mean "forever").
    timeout: int | None = Field(default=None, ge=1, le=600)
    # Seconds before all members are tried again (Asterisk reads 0 as its default, 5).
    retry: int | None = Field(default=None, ge=1, le=600)
    wrapuptime: Seconds | None = None
    weight: int | None = Field(default=None, ge=0, le=1000)
    # Callers allowed to wait (0: no limit).
    maxlen: int | None = Field(default=None, ge=0, le=100_000)
    servicelevel: Seconds | None = None
    joinempty: bool | None = None
    leavewhenempty: bool | None = None
    announce_position: bool | None = None
    announce_holdtime: bool | None = None
    # Seconds between position/hold-time announcements (0: never).
    announce_frequency: Seconds | None = None
    # An announcement of the library (its id), played every periodic_announce_frequency s.
    periodic_announce: int | None = Field(default=None, ge=1)
    periodic_announce_frequency: Seconds | None = None
    musicclass: MusicClass | None = None
    exit_voicemail_key: ExitKey | None = None
    exit_callback_key: ExitKey | None = None
    exit_operator_key: ExitKey | None = None
    operator_queue: QueueName | None = None

    @model_validator(mode="after")
    def _consistent(self) -> QueueSpec:
        keys = [k for k in self.exit_keys().values() if k is not None]
        if len(keys) != len(set(keys)):
            raise ValueError("each exit needs its own key")
        if (self.exit_operator_key is None) != (self.operator_queue is None):
            raise ValueError("exit_operator_key and operator_queue go together")
        if self.periodic_announce is not None and not self.periodic_announce_frequency:
            raise ValueError("a periodic announcement needs periodic_announce_frequency > 0")
        return self

    def exit_keys(self) -> dict[str, str | None]:
        return {
            "voicemail": self.exit_voicemail_key,
            "callback": self.exit_callback_key,
            "operator": self.exit_operator_key,
        }

    @property
    def has_exits(self) -> bool:
        return any(k is not None for k in self.exit_keys().values())

    def changes_from(self, before: QueueSpec) -> dict[str, tuple[object, object]]:
        """Field -> (before, after) for every field that differs (the audit's before/after)."""
        old, new = before.model_dump(), self.model_dump()
        return {k: (old[k], new[k]) for k in new if old[k] != new[k]}


EMPTY = QueueSpec()


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def exits_context(queue: str) -> str:
    return f"{EXITS_CONTEXT_PREFIX}{queue}"


def config_lines(
    queue: str, spec: QueueSpec, announcement_path: str | None
) -> list[tuple[str, str]]:
    """The queues.conf lines (key, value) of one managed queue, in a fixed order.

    ``announcement_path`` is where the PBX finds the periodic announcement (no extension).
    """
    lines: list[tuple[str, str]] = []

    def add(key: str, value: int | str | None) -> None:
        if value is not None:
            lines.append((key, str(value)))

    add("strategy", spec.strategy)
    add("timeout", spec.timeout)
    add("retry", spec.retry)
    add("wrapuptime", spec.wrapuptime)
    add("weight", spec.weight)
    add("maxlen", spec.maxlen)
    add("servicelevel", spec.servicelevel)
    for key, flag in (
        ("joinempty", spec.joinempty),
        ("leavewhenempty", spec.leavewhenempty),
        ("announce-position", spec.announce_position),
        ("announce-holdtime", spec.announce_holdtime),
    ):
        add(key, None if flag is None else _yes(flag))
    add("announce-frequency", spec.announce_frequency)
    if spec.periodic_announce is not None:
        add("periodic-announce", announcement_path)
        add("periodic-announce-frequency", spec.periodic_announce_frequency)
    add("musicclass", spec.musicclass)
    if spec.has_exits:
        add("context", exits_context(queue))
    return lines


def render_queues(desired: Mapping[str, QueueSpec], announcements: Mapping[int, str]) -> str:
    """The whole queues include file: one ``[queue](+)`` section per managed queue."""
    parts = [HEADER]
    for queue in sorted(desired):
        spec = desired[queue]
        lines = config_lines(queue, spec, _announcement(spec, announcements))
        parts.append(f"\n[{queue}](+)\n")
        parts.extend(f"{key} = {value}\n" for key, value in lines)
    return "".join(parts)


def _announcement(spec: QueueSpec, announcements: Mapping[int, str]) -> str | None:
    return None if spec.periodic_announce is None else announcements.get(spec.periodic_announce)


def render_exits(desired: Mapping[str, QueueSpec]) -> str:
    """The dialplan include file: per queue with exits, the context its EXITWITHKEY uses.

    Each key records the queue it left (CC_EXIT_FROM) and goes to the static context of its
    exit (dialplan/exits.conf), the voicemail and callback ones keyed by the queue, the
    operator one by the queue callers are sent to.
    """
    parts = [HEADER]
    for queue in sorted(desired):
        spec = desired[queue]
        if not spec.has_exits:
            continue
        parts.append(f"\n[{exits_context(queue)}]\n")
        for kind, key in spec.exit_keys().items():
            if key is None:
                continue
            target = spec.operator_queue if kind == "operator" else queue
            parts.append(f"exten => {key},1,Set(CC_EXIT_FROM={queue})\n")
            parts.append(f" same => n,Goto(callcenter-exit-{kind},{target},1)\n")
    return "".join(parts)


def effective_values(lines: Sequence[tuple[str, str]]) -> dict[str, str]:
    """What app_queue ends up with from a section's lines: the last value of each key wins
    (it applies them in order), keys compared as Asterisk does (case-insensitive)."""
    values: dict[str, str] = {}
    for key, value in lines:
        values[key.strip().lower()] = value.strip()
    return values


def read_back_mismatches(expected: Sequence[tuple[str, str]], seen: Mapping[str, str]) -> list[str]:
    """Each expected line that Asterisk's own reading of the config does not end up with."""
    wrong: list[str] = []
    for key, value in expected:
        got = seen.get(key)
        if got is None or got.lower() != value.lower():
            wrong.append(f"{key}: expected {value}, Asterisk reads {got or 'nothing'}")
    return wrong


def live_mismatches(spec: QueueSpec, live: QueueParamsView) -> list[str]:
    """Set values that the running queue (QueueParams) does not show."""
    wrong: list[str] = []
    for name, want, got in (
        ("strategy", spec.strategy, live.strategy),
        ("maxlen", spec.maxlen, live.max_callers),
        ("weight", spec.weight, live.weight),
        ("servicelevel", spec.servicelevel, live.service_level_seconds),
    ):
        if want is not None and str(want) != str(got):
            wrong.append(f"{name}: set to {want}, the queue runs with {got}")
    return wrong


def major_version(version: str) -> int | None:
    """22 of "22.10.1+dfsg..." (None when it cannot be read)."""
    head = version.strip().split(".", 1)[0]
    return int(head) if head.isdigit() else None


def strategy_not_overridable(
    version: str,
    queue_lines: Sequence[tuple[str, str]],
    ours: int,
    current: str,
    wanted: str | None,
) -> str | None:
    """Why this Asterisk cannot take a new strategy from the include file, or None.

    Before Asterisk 23 app_queue takes a queue's *first* ``strategy`` line (its
    ``ast_variable_retrieve`` returned the first match; 23 returns the last), so when
    queues.conf or its template already sets one, an appended line is ignored on reload.
    ``ours``: how many of the section's strategy lines come from our own include now.
    """
    if wanted is None or wanted == current:
        return None
    major = major_version(version)
    if major is not None and major >= 23:
        return None
    own = sum(1 for key, _ in queue_lines if key.strip().lower() == "strategy") - ours
    if own <= 0:
        return None
    return (
        f"Asterisk {version or '(version unknown)'} takes a queue's first strategy line, and "
        "queues.conf (or the queue's template) already sets one: an appended strategy is "
        "ignored on reload. Change the strategy in queues.conf, or run Asterisk 23 or newer"
    )


def needs_restart(current: str | None, wanted: str | None) -> str | None:
    """Why a strategy change cannot be made by a reload, or None.

    app_queue refuses to switch a queue to or from ``linear`` on reload (it keeps the old
    strategy and only logs it): that takes a restart of Asterisk.
    """
    if wanted is None or current is None or wanted == current:
        return None
    if "linear" in (current, wanted):
        return (
            f"Asterisk cannot switch a queue from {current} to {wanted} by a reload "
            "(to or from linear needs a restart of Asterisk)"
        )
    return None
