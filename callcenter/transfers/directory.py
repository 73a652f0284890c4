"""The transfer directory, pure: what each target is, how the PBX reaches it, and which one
"escalate" picks (seed 003's pyramid: first line, specialist teams, management)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

FIRST_LINE = 1


@dataclass(frozen=True, slots=True)
class Target:
    slug: str
    label_zh: str
    label_en: str
    tier: int
    kind: str  # queue | interfaces | external
    pbx: str | None = None
    queue: str | None = None
    interfaces: tuple[str, ...] = field(default_factory=tuple)
    number: str | None = None
    trunk_context: str | None = None
    escalation: bool = False
    enabled: bool = True
    version: int = 1

    def serves(self, pbx: str) -> bool:
        """A target without a PBX is on whichever PBX the call is."""
        return self.pbx is None or self.pbx == pbx

    def label(self, language: str) -> str:
        return self.label_en if language == "en" else self.label_zh


@dataclass(frozen=True, slots=True)
class Route:
    """How the PBX reaches a target: ``queue`` (Queue() into ``dest``) or ``dial``
    (Dial() of ``dest``)."""

    kind: str
    dest: str


def route_of(target: Target) -> Route:
    if target.kind == "queue" and target.queue:
        return Route("queue", target.queue)
    if target.kind == "interfaces" and target.interfaces:
        return Route("dial", "&".join(target.interfaces))
    if target.kind == "external" and target.number and target.trunk_context:
        return Route("dial", f"Local/{target.number}@{target.trunk_context}")
    raise ValueError(f"transfer target {target.slug} is incomplete ({target.kind})")


def tier_of_queue(targets: Iterable[Target], pbx: str, queue: str | None) -> int:
    """The tier a call is in: that of the queue target it came through, else first line."""
    tiers = [
        t.tier
        for t in targets
        if t.enabled and t.kind == "queue" and t.queue == queue and t.serves(pbx)
    ]
    return min(tiers) if tiers else FIRST_LINE


def escalation_target(targets: Sequence[Target], pbx: str, from_tier: int) -> Target | None:
    """The escalation target (``escalation = true``) of the lowest tier above ``from_tier``
    that has one, ties by slug; None when no tier above has one (the team leader then)."""
    above = [
        t for t in targets if t.enabled and t.escalation and t.serves(pbx) and t.tier > from_tier
    ]
    return min(above, key=lambda t: (t.tier, t.slug), default=None)
