"""Random event sequences (valid, out of order, or nonsense) keep the model's invariants."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callcenter.live import CallEnded, CallerJoined, Change, LiveModel
from callcenter.live.events import CoreShowChannel, QueueEntry, QueueParams, ResyncRecord
from callcenter.live.journal import ResyncJournal
from tests.live import amitrace as ami

PBXS = ("pbx-a", "pbx-b")
QUEUES = ("support", "sales")
CALLERS = tuple(ami.Caller(f"1741000000.{i}", f"13{i:09d}") for i in range(4))
AGENTS = (ami.Agent("PJSIP/8001", "Alice"), ami.Agent("PJSIP/8002", "Bob"))
LEG = ("PJSIP/8001-00000001", "agentleg.1")

pbxs, queues = st.sampled_from(PBXS), st.sampled_from(QUEUES)
callers, agents = st.sampled_from(CALLERS), st.sampled_from(AGENTS)

ops = st.one_of(
    st.tuples(st.just("join"), pbxs, queues, callers, st.integers(1, 6)),
    st.tuples(st.just("leave"), pbxs, queues, callers, st.integers(1, 6)),
    st.tuples(st.just("abandon"), pbxs, queues, callers, st.integers(0, 40)),
    st.tuples(st.just("called"), pbxs, queues, callers, agents),
    st.tuples(st.just("rna"), pbxs, queues, callers, agents),
    st.tuples(st.just("connect"), pbxs, queues, callers, agents),
    st.tuples(st.just("complete"), pbxs, queues, callers, agents),
    st.tuples(st.just("hangup"), pbxs, callers),
    st.tuples(
        st.just("status"),
        pbxs,
        callers,
        st.sampled_from(["TIMEOUT", "WITHDRAW", "LEAVEEMPTY", "CONTINUE"]),
    ),
    st.tuples(st.just("ivr"), pbxs, callers, st.text(max_size=3)),
    st.tuples(st.just("member"), pbxs, queues, agents, st.integers(0, 8), st.booleans()),
    st.tuples(st.just("removed"), pbxs, queues, agents),
    st.tuples(st.just("tick")),
    st.tuples(st.just("reconcile"), pbxs, st.lists(st.booleans(), min_size=8, max_size=8)),
    # A snapshot taken now and reconciled at a later "reconcile" of that PBX, with the
    # events in between applied first, as the service does.
    st.tuples(st.just("snapshot"), pbxs, st.lists(st.booleans(), min_size=8, max_size=8)),
)


def message(op: tuple, at: datetime) -> dict[str, str] | None:  # type: ignore[type-arg]
    kind = op[0]
    if kind == "join":
        return ami.join(at, op[2], op[3], op[4], op[4])
    if kind == "leave":
        return ami.leave(at, op[2], op[3], op[4], 0)
    if kind == "abandon":
        return ami.abandon(at, op[2], op[3], 1, 1, op[4])
    if kind == "called":
        return ami.called(at, op[2], op[3], op[4], LEG)
    if kind == "rna":
        return ami.ring_no_answer(at, op[2], op[3], op[4], LEG, 15000)
    if kind == "connect":
        return ami.connect(at, op[2], op[3], op[4], LEG, 0, 2)
    if kind == "complete":
        return ami.complete(at, op[2], op[3], op[4], LEG, 0, 30, "caller")
    if kind == "hangup":
        return ami.hangup(at, op[2])
    if kind == "status":
        return ami.var_set(at, op[2], "QUEUESTATUS", op[3])
    if kind == "ivr":
        return ami.var_set(at, op[2], "CC_DIGITS", op[3])
    if kind == "member":
        return ami.member("QueueMemberStatus", at, op[2], op[3], status=op[4], paused=op[5])
    if kind == "removed":
        return ami.member("QueueMemberRemoved", at, op[2], op[3])
    return None


def resync_records(
    model: LiveModel, pbx: str, keep: list[bool], at: datetime
) -> list[ResyncRecord]:
    """A plausible PBX snapshot: the model's own queues, some callers dropped or hung up."""
    records: list[ResyncRecord] = []
    snap = model.snapshot()
    for index, queue in enumerate(q for q in snap.queues if q.pbx == pbx):
        if index < len(keep) and not keep[index] and index == 0:
            continue  # drop the first queue sometimes: it must be removed
        records.append(
            QueueParams(pbx, at, queue.queue, "ringall", 0, 0, 0, 0, 0, 0, 20, 0.0, 0.0, 0)
        )
        position = 0
        for caller in queue.callers:
            if keep[(position + 1) % len(keep)]:
                position += 1
                records.append(
                    QueueEntry(
                        pbx,
                        at,
                        queue.queue,
                        position,
                        caller.channel,
                        caller.uniqueid,
                        caller.caller_num,
                        "",
                        0,
                        0,
                    )
                )
    for call in snap.calls:
        if call.pbx == pbx and keep[int(call.uniqueid[-1]) % len(keep)]:
            records.append(CoreShowChannel(pbx, at, "", call.uniqueid, call.uniqueid, "", ""))
    return records


def check_invariants(model: LiveModel, now: datetime) -> None:
    snap = model.snapshot()
    seen: set[tuple[str, str]] = set()
    for queue in snap.queues:
        assert [c.position for c in queue.callers] == list(range(1, len(queue.callers) + 1))
        for caller in queue.callers:
            key = (caller.pbx, caller.uniqueid)
            assert key not in seen, f"{key} waits in two places"
            seen.add(key)
            assert caller.queue == queue.queue and caller.pbx == queue.pbx
    waiting_calls = {(c.pbx, c.uniqueid) for c in snap.calls if c.phase == "waiting"}
    assert waiting_calls == seen
    assert len({(c.pbx, c.uniqueid) for c in snap.calls}) == len(snap.calls)
    for view in model.queue_views(now):
        stats = view.stats
        counts = (
            stats.offered,
            stats.answered,
            stats.answered_within_sl,
            stats.abandoned,
            stats.short_abandons,
            stats.timeouts,
            stats.withdrawn,
            stats.handled,
        )
        assert min(counts) >= 0
        assert stats.short_abandons <= stats.abandoned
        assert stats.answered_within_sl <= stats.answered
        for rate in (
            stats.service_level_answered,
            stats.service_level_offered,
            stats.abandon_rate,
            stats.answer_rate,
        ):
            assert rate is None or 0.0 <= rate <= 1.0
        assert view.callers_waiting == len(view.callers)
        assert view.longest_wait_seconds is None or view.longest_wait_seconds >= 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(ops, st.integers(1, 3000)), max_size=80))
def test_random_sequences_keep_the_invariants(steps: list[tuple[tuple, int]]) -> None:  # type: ignore[type-arg]
    model = LiveModel()
    now = ami.T0
    changes: list[Change] = []
    taken: dict[str, tuple[ResyncJournal, list[ResyncRecord]]] = {}
    for op, step_ms in steps:
        now += timedelta(milliseconds=step_ms)  # strictly increasing: join times are unique
        fields = message(op, now)
        if fields is not None:
            changes.extend(ami.Pbx(model, op[1]).send(fields))
        elif op[0] == "tick":
            changes.extend(model.tick(now))
        elif op[0] == "snapshot":
            journal = model.begin_resync(op[1])
            taken[op[1]] = (journal, resync_records(model, op[1], op[2], now))
        else:
            # The snapshot taken earlier (events applied since), or one taken now.
            journal, records = taken.pop(op[1], None) or (
                model.begin_resync(op[1]),
                resync_records(model, op[1], op[2], now),
            )
            changes.extend(model.reconcile(op[1], records, now, journal))
        check_invariants(model, now)

    # Finally every PBX is found empty: every call still open is closed now.
    for name in PBXS:
        now += timedelta(seconds=1)
        changes.extend(model.reconcile(name, [], now, model.begin_resync(name)))
    assert model.snapshot().calls == () and model.snapshot().queues == ()

    ended = Counter(
        (c.record.pbx, c.record.uniqueid, c.record.joined_at)
        for c in changes
        if isinstance(c, CallEnded)
    )
    assert max(ended.values(), default=1) == 1, "a call ended twice"
    joined = [
        (c.caller.pbx, c.caller.uniqueid, c.caller.joined_at)
        for c in changes
        if isinstance(c, CallerJoined)
    ]
    for key in joined:
        assert ended[key] == 1, f"{key} joined but never ended"
