"""Resync after a reconnect: the PBX snapshot is the truth, each fix reported once."""

from __future__ import annotations

from callcenter.live import CallEnded, Change, Correction, LiveModel, MemberView
from tests.live import amitrace as ami

Q = "support"
ALICE = ami.Agent("PJSIP/8001", "Alice")
BOB = ami.Agent("PJSIP/8002", "Bob")


def corrections(changes: list[Change]) -> list[tuple[str, tuple[str, ...]]]:
    return [(c.kind, c.key) for c in changes if isinstance(c, Correction)]


def ended(changes: list[Change]) -> list[CallEnded]:
    return [c for c in changes if isinstance(c, CallEnded)]


def test_fixes_a_stuck_paused_member_and_a_second_reconcile_is_silent() -> None:
    model = LiveModel()
    pbx = ami.Pbx(model)
    pbx.send_all(
        ami.member("QueueMemberAdded", pbx.at(0), Q, ALICE),
        ami.member("QueueMemberPause", pbx.at(1), Q, ALICE, paused=True, reason="lunch"),
        # The unpause happened while we were disconnected.
    )
    snapshot = (ami.queue_params(Q), ami.queue_member(Q, ALICE, paused=False))
    changes = pbx.resync(*snapshot, now=100)
    assert corrections(changes) == [
        ("queue_params", ("pbx-a", Q)),
        ("member_fixed", ("pbx-a", Q, "PJSIP/8001")),
    ]
    fix = changes[1]
    assert isinstance(fix, Correction)
    assert isinstance(fix.before, MemberView) and fix.before.paused
    assert isinstance(fix.after, MemberView) and not fix.after.paused
    assert fix.after.paused_reason == "" and fix.after.state == "available"
    view = model.queue_view("pbx-a", Q, pbx.at(100))
    assert view.agents_paused == 0 and view.agents_available == 1
    assert view.params is not None and view.params.strategy == "ringall"

    assert pbx.resync(*snapshot, now=200) == []
    assert model.corrections_count == 2


def test_closes_a_vanished_caller_once_as_unknown() -> None:
    model = LiveModel()
    pbx = ami.Pbx(model)
    gone, staying = ami.Caller("1741000000.1", "111"), ami.Caller("1741000000.2", "222")
    pbx.send_all(
        ami.member("QueueMemberAdded", pbx.at(0), Q, ALICE),
        ami.join(pbx.at(1), Q, gone, 1, 1),
        ami.join(pbx.at(2), Q, staying, 2, 2),
    )
    snapshot = (
        ami.queue_params(Q),
        ami.queue_member(Q, ALICE),
        ami.queue_entry(Q, staying, 1, 58, priority=0),
        ami.core_show_channel(staying),
    )
    changes = pbx.resync(*snapshot, now=60)
    (closed,) = ended(changes)
    record = closed.record
    assert (record.uniqueid, record.outcome, record.evidence) == (
        gone.uniqueid,
        "unknown",
        "reconcile",
    )
    assert record.position_at_exit == 1
    assert corrections(changes) == [
        ("queue_params", ("pbx-a", Q)),
        ("call_closed", ("pbx-a", gone.uniqueid)),
        # `staying` moves up from 2 to 1 as a consequence of that close: not a fix of its own
    ]
    view = model.queue_view("pbx-a", Q, pbx.at(60))
    assert [(c.uniqueid, c.position, c.priority) for c in view.callers] == [
        (staying.uniqueid, 1, 0)
    ]

    assert pbx.resync(*snapshot, now=61) == []
    assert pbx.send(ami.hangup(pbx.at(62), gone)) == []  # closed once, never again


def test_adds_callers_members_and_queues_it_did_not_know_and_removes_the_rest() -> None:
    model = LiveModel()
    pbx = ami.Pbx(model)
    other = ami.Pbx(model, "pbx-b")
    other.send(ami.member("QueueMemberAdded", other.at(0), "old", BOB))
    pbx.send_all(
        ami.member("QueueMemberAdded", pbx.at(0), "old", BOB),
        ami.member("QueueMemberAdded", pbx.at(0), Q, BOB),
    )
    waiting = ami.Caller("1741000000.7", "333")
    pbx.send(ami.var_set(pbx.at(1), waiting, "CC_VIP", "gold"))
    changes = pbx.resync(
        ami.queue_params(Q, strategy="leastrecent"),
        ami.queue_params("sales"),
        ami.queue_member(Q, ALICE, status=2),
        ami.queue_entry(Q, waiting, 1, 30, priority=10),
        ami.core_show_channel(waiting),
        now=100,
    )
    assert sorted(corrections(changes)) == sorted(
        [
            ("queue_params", ("pbx-a", Q)),
            ("queue_added", ("pbx-a", "sales")),
            ("queue_params", ("pbx-a", "sales")),
            ("member_removed", ("pbx-a", Q, "PJSIP/8002")),
            ("member_added", ("pbx-a", Q, "PJSIP/8001")),
            ("caller_added", ("pbx-a", waiting.uniqueid)),
            ("queue_removed", ("pbx-a", "old")),
        ]
    )
    view = model.queue_view("pbx-a", Q, pbx.at(100))
    (caller,) = view.callers
    assert caller.joined_at == pbx.at(70) and caller.priority == 10
    assert dict(caller.ivr) == {"CC_VIP": "gold"}
    assert view.agents_busy == 1
    assert {(q.pbx, q.queue) for q in model.snapshot().queues} == {
        ("pbx-a", Q),
        ("pbx-a", "sales"),
        ("pbx-b", "old"),
    }  # the other PBX is untouched

    # The added caller is a normal caller afterwards.
    (record,) = [
        c.record
        for c in pbx.send_all(
            ami.abandon(pbx.at(101), Q, waiting, 1, 1, 31),
            ami.leave(pbx.at(101), Q, waiting, 1, 0),
            ami.hangup(pbx.at(101), waiting),
        )
        if isinstance(c, CallEnded)
    ]
    assert record.outcome == "abandoned" and record.wait_seconds == 31


def test_caller_gone_from_queue_but_channel_alive_is_detached_not_closed() -> None:
    model = LiveModel()
    pbx = ami.Pbx(model)
    caller = ami.Caller("1741000000.9", "444")
    leg = ALICE.leg()
    pbx.send_all(
        ami.member("QueueMemberAdded", pbx.at(0), Q, ALICE), ami.join(pbx.at(1), Q, caller, 1, 1)
    )
    # Connected to Alice while we were away: no longer queued, channel still up.
    snapshot = (
        ami.queue_params(Q),
        ami.queue_member(Q, ALICE, status=2),
        ami.core_show_channel(caller, application="AppQueue"),
    )
    changes = pbx.resync(*snapshot, now=50)
    assert ("caller_detached", ("pbx-a", caller.uniqueid)) in corrections(changes)
    assert ended(changes) == []
    assert model.queue_view("pbx-a", Q, pbx.at(50)).callers_waiting == 0
    assert [c.phase for c in model.snapshot().calls] == ["left"]
    assert [c for c in pbx.resync(*snapshot, now=60) if not isinstance(c, Correction)] == []
    assert pbx.resync(*snapshot, now=60) == []

    (done,) = ended(pbx.send(ami.complete(pbx.at(90), Q, caller, ALICE, leg, 10, 40, "agent")))
    assert (done.record.outcome, done.record.answered_by) == ("answered", "PJSIP/8001")


def test_a_connected_call_whose_channel_vanished_ends_answered() -> None:
    model = LiveModel()
    pbx = ami.Pbx(model)
    caller = ami.Caller("1741000000.10", "555")
    leg = ALICE.leg()
    pbx.send_all(
        ami.member("QueueMemberAdded", pbx.at(0), Q, ALICE),
        ami.join(pbx.at(1), Q, caller, 1, 1),
        ami.leave(pbx.at(5), Q, caller, 1, 0),
        ami.connect(pbx.at(5), Q, caller, ALICE, leg, 4, 3),
    )
    changes = pbx.resync(ami.queue_params(Q), ami.queue_member(Q, ALICE), now=65)
    (done,) = ended(changes)
    assert (done.record.outcome, done.record.talk_seconds) == ("answered", 60.0)
    assert model.snapshot().calls == ()
    assert pbx.resync(ami.queue_params(Q), ami.queue_member(Q, ALICE), now=70) == []


def test_reorders_waiting_callers_to_match_the_pbx() -> None:
    model = LiveModel()
    pbx = ami.Pbx(model)
    first, second = ami.Caller("1741000000.21", "661"), ami.Caller("1741000000.22", "662")
    pbx.send_all(ami.join(pbx.at(0), Q, first, 1, 1), ami.join(pbx.at(1), Q, second, 2, 2))
    snapshot = (
        ami.queue_params(Q),
        ami.queue_entry(Q, second, 1, 9, priority=5),
        ami.queue_entry(Q, first, 2, 10),
        ami.core_show_channel(first),
        ami.core_show_channel(second),
    )
    changes = pbx.resync(*snapshot, now=10)
    assert corrections(changes) == [
        ("queue_params", ("pbx-a", Q)),
        ("caller_fixed", ("pbx-a", second.uniqueid)),
        ("caller_fixed", ("pbx-a", first.uniqueid)),
    ]
    view = model.queue_view("pbx-a", Q, pbx.at(10))
    assert [c.caller_num for c in view.callers] == ["662", "661"]
    assert pbx.resync(*snapshot, now=11) == []


# --------------------------------------------- events that arrive while the snapshot is taken


def test_a_caller_who_timed_out_while_the_snapshot_was_taken_is_not_brought_back() -> None:
    # The failure seen on the rig after a restart: QueueStatus listed the caller, their
    # timeout arrived before CoreShowChannels answered, and the stale entry put them back in
    # the queue, so the hang-up that followed was stored as an abandon.
    model = LiveModel()
    pbx = ami.Pbx(model)
    caller = ami.Caller("1741000000.31", "771")
    pbx.send_all(
        ami.member("QueueMemberAdded", pbx.at(0), Q, ALICE), ami.join(pbx.at(1), Q, caller, 1, 1)
    )
    journal = model.begin_resync("pbx-a")
    stale = (
        ami.queue_params(Q),
        ami.queue_member(Q, ALICE),
        ami.queue_entry(Q, caller, 1, 3),
        ami.core_show_channel(caller),
    )
    changes = pbx.send_all(
        ami.leave(pbx.at(5), Q, caller, 1, 0),
        ami.var_set(pbx.at(5), caller, "QUEUESTATUS", "TIMEOUT"),
    )
    resynced = pbx.resync(*stale, now=5.2, journal=journal)
    assert [kind for kind, _ in corrections(resynced)] == ["queue_params"]
    assert model.queue_view("pbx-a", Q, pbx.at(5.2)).callers_waiting == 0
    changes += resynced + pbx.send(ami.hangup(pbx.at(9), caller))
    assert [done.record.outcome for done in ended(changes)] == ["timeout"]


def test_a_caller_who_joined_while_the_snapshot_was_taken_stays_waiting_at_the_back() -> None:
    model = LiveModel()
    pbx = ami.Pbx(model)
    early, late = ami.Caller("1741000000.41", "781"), ami.Caller("1741000000.42", "782")
    pbx.send(ami.join(pbx.at(0), Q, early, 1, 1))
    journal = model.begin_resync("pbx-a")
    stale = (ami.queue_params(Q), ami.queue_entry(Q, early, 1, 2), ami.core_show_channel(early))
    pbx.send(ami.join(pbx.at(2), Q, late, 2, 2))
    changes = pbx.resync(*stale, now=2.1, journal=journal)
    assert ended(changes) == []
    assert [kind for kind, _ in corrections(changes)] == ["queue_params"]
    view = model.queue_view("pbx-a", Q, pbx.at(2.1))
    assert [(c.caller_num, c.position) for c in view.callers] == [("781", 1), ("782", 2)]


def test_a_caller_rung_while_the_snapshot_was_taken_keeps_the_snapshot_position() -> None:
    model = LiveModel()
    pbx = ami.Pbx(model)
    first, second = ami.Caller("1741000000.51", "791"), ami.Caller("1741000000.52", "792")
    pbx.send_all(
        ami.member("QueueMemberAdded", pbx.at(0), Q, ALICE),
        ami.join(pbx.at(0), Q, first, 1, 1),
        ami.join(pbx.at(1), Q, second, 2, 2),
    )
    journal = model.begin_resync("pbx-a")
    snapshot = (
        ami.queue_params(Q),
        ami.queue_member(Q, ALICE),
        ami.queue_entry(Q, second, 1, 9, priority=5),
        ami.queue_entry(Q, first, 2, 10),
        ami.core_show_channel(first),
        ami.core_show_channel(second),
    )
    pbx.send(ami.called(pbx.at(10), Q, first, ALICE, ALICE.leg()))
    pbx.resync(*snapshot, now=10, journal=journal)
    view = model.queue_view("pbx-a", Q, pbx.at(10))
    assert [c.caller_num for c in view.callers] == ["792", "791"]


def test_a_pause_while_the_snapshot_was_taken_is_not_undone_by_it() -> None:
    model = LiveModel()
    pbx = ami.Pbx(model)
    pbx.send(ami.member("QueueMemberAdded", pbx.at(0), Q, ALICE))
    journal = model.begin_resync("pbx-a")
    stale = (ami.queue_params(Q), ami.queue_member(Q, ALICE, paused=False))
    pbx.send(ami.member("QueueMemberPause", pbx.at(1), Q, ALICE, paused=True, reason="lunch"))
    changes = pbx.resync(*stale, now=2, journal=journal)
    assert [kind for kind, _ in corrections(changes)] == ["queue_params"]
    assert model.queue_view("pbx-a", Q, pbx.at(2)).agents_paused == 1
    # The next snapshot is the truth again.
    changes = pbx.resync(*stale, now=3, journal=model.begin_resync("pbx-a"))
    assert [kind for kind, _ in corrections(changes)] == ["member_fixed"]


def test_a_cancelled_resync_leaves_the_next_snapshot_in_charge() -> None:
    model = LiveModel()
    pbx = ami.Pbx(model)
    caller = ami.Caller("1741000000.61", "801")
    pbx.send(ami.join(pbx.at(0), Q, caller, 1, 1))
    journal = model.begin_resync("pbx-a")
    pbx.send(ami.called(pbx.at(1), Q, caller, ALICE, ALICE.leg()))
    model.cancel_resync("pbx-a", journal)
    # The caller vanished without an event: a later snapshot without them closes the call.
    (done,) = ended(pbx.resync(ami.queue_params(Q), now=30))
    assert done.record.outcome == "unknown"


def test_two_snapshots_taken_at_once_each_give_way_to_the_events_since_theirs() -> None:
    # The periodic resync and one a supervisor's priority change asked for overlap.
    model = LiveModel()
    pbx = ami.Pbx(model)
    caller = ami.Caller("1741000000.81", "811")
    pbx.send(ami.join(pbx.at(0), Q, caller, 1, 1))
    periodic = model.begin_resync("pbx-a")
    asked = model.begin_resync("pbx-a")
    stale = (ami.queue_params(Q), ami.queue_entry(Q, caller, 1, 4), ami.core_show_channel(caller))
    changes = pbx.send_all(
        ami.leave(pbx.at(5), Q, caller, 1, 0),
        ami.var_set(pbx.at(5), caller, "QUEUESTATUS", "TIMEOUT"),
    )
    changes += pbx.resync(*stale, now=5.1, journal=periodic)
    changes += pbx.resync(*stale, now=5.2, journal=asked)
    changes += pbx.send(ami.hangup(pbx.at(9), caller))
    assert [done.record.outcome for done in ended(changes)] == ["timeout"]
    assert model.queue_view("pbx-a", Q, pbx.at(9)).callers_waiting == 0
