"""What screening decides: withheld numbers, the blocked list's number keys, the order of
the rules. Pure functions, no I/O."""

from __future__ import annotations

import pytest

from callcenter.customers.phones import BadPhoneNumber
from callcenter.screening.rules import (
    Decision,
    Result,
    blocked_key,
    caller_key,
    decide,
    is_withheld,
)

CN = "CN"


@pytest.mark.parametrize(
    ("number", "presentation"),
    [
        ("", ""),
        ("   ", "allowed_not_screened"),
        ("anonymous", ""),
        ("Anonymous", "allowed"),
        ("unknown", ""),
        ("Restricted", ""),
        ("private", ""),
        ("sip-user", ""),  # no digit at all: nothing to call back or to block
        ("13800138000", "prohib"),
        ("13800138000", "prohib_not_screened"),
        ("13800138000", "PROHIB_PASSED_SCREEN"),
        ("", "prohib_failed_screen"),
    ],
)
def test_withheld_callers(number: str, presentation: str) -> None:
    assert is_withheld(number, presentation)


@pytest.mark.parametrize(
    ("number", "presentation"),
    [
        ("13800138000", ""),
        ("13800138000", "allowed_not_screened"),
        ("+8613800138000", "allowed"),
        ("1001", "allowed_passed_screen"),  # an extension shows its number
        ("13800138000", "unavailable"),  # not withheld by the caller: the number is there
    ],
)
def test_shown_callers(number: str, presentation: str) -> None:
    assert not is_withheld(number, presentation)


@pytest.mark.parametrize(
    "written",
    ["13800138000", "138 0013 8000", "138-0013-8000", "013800138000", "+86 138 0013 8000",
     "008613800138000", "(+86) 13800138000"],
)  # fmt: skip
def test_a_number_to_block_is_stored_as_e164(written: str) -> None:
    assert blocked_key(written, CN) == "+8613800138000"


def test_a_foreign_number_keeps_its_country() -> None:
    assert blocked_key("+44 20 7946 0958", CN) == "+442079460958"
    assert blocked_key("020 7946 0958", "GB") == "+442079460958"


@pytest.mark.parametrize("written", ["", "   ", "12", "abc", "1" * 41, "+999 12345"])
def test_what_is_no_phone_number_is_refused(written: str) -> None:
    with pytest.raises(BadPhoneNumber):
        blocked_key(written, CN)


@pytest.mark.parametrize(
    ("caller", "key"),
    [
        ("13800138000", "+8613800138000"),
        ("+8613800138000", "+8613800138000"),
        ("013800138000", "+8613800138000"),
        ("008613800138000", "+8613800138000"),
        ("8613800138000", "+8613800138000"),  # a trunk that drops the "+"
        ("1001", "1001"),  # an extension: its digits, which no blocked number equals
        ("anonymous", ""),
        ("", ""),
    ],
)
def test_the_key_a_caller_is_looked_up_by(caller: str, key: str) -> None:
    assert caller_key(caller, CN) == key


BLOCKED = frozenset({"+8613800138000"})


def screen(number: str, presentation: str = "", **rule: object) -> Decision:
    options: dict[str, object] = {"withheld": "allow", "withheld_queue": None, **rule}
    return decide(number, presentation, BLOCKED, region=CN, **options)  # type: ignore[arg-type]


def test_a_blocked_number_is_turned_away_however_it_is_written() -> None:
    for caller in ("13800138000", "+8613800138000", "013800138000", "8613800138000"):
        decision = screen(caller)
        assert decision == Decision(Result.BLOCKED, "+8613800138000"), caller
        assert decision.variables() == {"SCREEN_RESULT": "blocked", "SCREEN_QUEUE": ""}


def test_blocked_wins_over_withheld() -> None:
    # The network gave the number but the caller asked to hide it: still blocked.
    assert screen("13800138000", "prohib", withheld="queue", withheld_queue="hidden").result is (
        Result.BLOCKED
    )


def test_the_withheld_rule() -> None:
    assert screen("", withheld="allow").result is Result.OK
    assert screen("anonymous", withheld="message").variables() == {
        "SCREEN_RESULT": "withheld-message",
        "SCREEN_QUEUE": "",
    }
    queued = screen("13900000001", "prohib", withheld="queue", withheld_queue="hidden")
    assert queued == Decision(Result.WITHHELD_QUEUE, "", "hidden")
    assert queued.variables() == {"SCREEN_RESULT": "withheld-queue", "SCREEN_QUEUE": "hidden"}
    # A queue rule without its queue puts the caller through rather than nowhere.
    assert screen("", withheld="queue", withheld_queue=None).result is Result.OK


def test_everybody_else_is_put_through() -> None:
    assert screen("13900000001", withheld="message") == Decision(Result.OK, "+8613900000001")
    assert screen("1001", withheld="message") == Decision(Result.OK, "1001")
