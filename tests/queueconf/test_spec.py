"""Queue settings as values: validation, what the include files say, the read-back and the
refusals (pure)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from callcenter.live.changes import QueueParamsView
from callcenter.queueconf.spec import (
    EMPTY,
    QueueSpec,
    config_lines,
    effective_values,
    live_mismatches,
    needs_restart,
    read_back_mismatches,
    render_exits,
    render_queues,
    strategy_not_overridable,
)


def test_only_what_asterisk_knows_is_accepted() -> None:
    for bad in (
        {"strategy": "roundrobin"},  # Asterisk would silently ring everyone
        {"timeout": -1},
        {"timeout": 0},  # 0 would ring for ever
        {"retry": 0},  # Asterisk reads 0 as 5
        {"wrapuptime": 3601},
        {"musicclass": "jazz\nstrategy=ringall"},
        {"exit_voicemail_key": "12"},
        {"exit_voicemail_key": "1", "exit_callback_key": "1"},
        {"exit_operator_key": "0"},  # no operator queue
        {"operator_queue": "ops"},  # no key
        {"periodic_announce": 3},  # no frequency
        {"timeout": "15"},  # strings are not numbers here
        {"colour": "red"},
    ):
        with pytest.raises(ValidationError):
            QueueSpec.model_validate(bad)


def test_the_include_appends_only_what_was_set_to_each_managed_queue() -> None:
    desired = {
        "support": QueueSpec(strategy="ringall", timeout=9, joinempty=False),
        "aftersales": QueueSpec(
            wrapuptime=30,
            announce_position=True,
            periodic_announce=4,
            periodic_announce_frequency=45,
            exit_voicemail_key="1",
        ),
    }
    text = render_queues(desired, {4: "/var/lib/asterisk/sounds/cc/ann-4-abc"})
    assert text.startswith("; Written by callcenter")
    assert text.index("[aftersales](+)") < text.index("[support](+)")  # stable order
    aftersales = text.split("[aftersales](+)\n")[1].split("\n\n")[0]
    assert aftersales.splitlines() == [
        "wrapuptime = 30",
        "announce-position = yes",
        "periodic-announce = /var/lib/asterisk/sounds/cc/ann-4-abc",
        "periodic-announce-frequency = 45",
        "context = callcenter-exits-aftersales",
    ]
    assert "strategy = ringall\ntimeout = 9\njoinempty = no\n" in text
    assert render_queues({}, {}).count("[") == 0


def test_exit_keys_become_one_context_per_queue() -> None:
    desired = {
        "support": QueueSpec(
            exit_voicemail_key="1", exit_operator_key="0", operator_queue="operators"
        ),
        "plain": QueueSpec(timeout=5),
    }
    text = render_exits(desired)
    assert "[callcenter-exits-plain]" not in text
    assert (
        "[callcenter-exits-support]\n"
        "exten => 1,1,Set(CC_EXIT_FROM=support)\n"
        " same => n,Goto(callcenter-exit-voicemail,support,1)\n"
        "exten => 0,1,Set(CC_EXIT_FROM=support)\n"
        " same => n,Goto(callcenter-exit-operator,operators,1)\n"
    ) in text


def test_the_read_back_takes_the_last_value_as_app_queue_does() -> None:
    lines = config_lines("q", QueueSpec(timeout=9, leavewhenempty=True), None)
    seen = effective_values(
        [("timeout", "15"), ("leavewhenempty", "no"), ("Timeout", "9"), ("leavewhenempty", "YES")]
    )
    assert read_back_mismatches(lines, seen) == []
    assert read_back_mismatches(lines, effective_values([("timeout", "15")])) == [
        "timeout: expected 9, Asterisk reads 15",
        "leavewhenempty: expected yes, Asterisk reads nothing",
    ]


def test_the_running_queue_must_show_what_it_can() -> None:
    spec = QueueSpec(strategy="rrmemory", maxlen=9, weight=4, servicelevel=30)
    assert live_mismatches(spec, QueueParamsView("rrmemory", 9, 30, 4)) == []
    assert live_mismatches(spec, QueueParamsView("ringall", 0, 30, 4)) == [
        "strategy: set to rrmemory, the queue runs with ringall",
        "maxlen: set to 9, the queue runs with 0",
    ]
    assert live_mismatches(EMPTY, QueueParamsView("ringall", 0, 0, 0)) == []


def test_what_a_reload_cannot_do_is_refused_with_the_reason() -> None:
    assert needs_restart("rrmemory", "linear")
    assert needs_restart("linear", "ringall")
    assert needs_restart("rrmemory", "ringall") is None
    assert needs_restart("linear", None) is None
    own = [("strategy", "rrmemory"), ("timeout", "15")]
    reason = strategy_not_overridable("22.10.1+dfsg", own, 0, "rrmemory", "ringall")
    assert reason and "first strategy line" in reason
    # Our own earlier line is not the PBX's: it can be replaced.
    assert (
        strategy_not_overridable("22.10.1", [("strategy", "ringall")], 1, "ringall", "random")
        is None
    )
    assert strategy_not_overridable("23.1.0", own, 0, "rrmemory", "ringall") is None
    assert strategy_not_overridable("22.1.0", [("timeout", "5")], 0, "ringall", "rrmemory") is None
    assert strategy_not_overridable("22.1.0", own, 0, "rrmemory", "rrmemory") is None


def test_the_audit_names_what_changed() -> None:
    before = QueueSpec(timeout=15, weight=2)
    after = QueueSpec(timeout=9, weight=2, strategy="ringall")
    assert after.changes_from(before) == {"timeout": (15, 9), "strategy": (None, "ringall")}
