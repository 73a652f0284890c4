"""Ticket numbers: eight digits, the last a Luhn check digit."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.work.tickets import luhn_digit, new_ticket, valid_ticket

BODIES = st.integers(min_value=1_000_000, max_value=9_999_999).map(str)


def _sample_tickets(count: int) -> list[str]:
    rng = random.Random(20261001)
    return [new_ticket(rng.randrange) for _ in range(count)]


def test_known_luhn_digits() -> None:
    assert luhn_digit("7992739871") == "3"  # the textbook example: 79927398713
    assert luhn_digit("0") == "0"
    assert luhn_digit("1000000") == "8"  # the 1 is doubled: 2 + 8 = 10


def test_new_ticket_draws_seven_digits_and_appends_the_check_digit() -> None:
    assert new_ticket(lambda n: 0) == "10000008"
    top = new_ticket(lambda n: n - 1)
    assert top[:7] == "9999999" and top == "9999999" + luhn_digit("9999999")
    assert new_ticket(lambda n: 4_827_193) == "5827193" + luhn_digit("5827193")


def test_a_bad_rng_is_refused() -> None:
    with pytest.raises(ValueError):
        new_ticket(lambda n: n)
    with pytest.raises(ValueError):
        new_ticket(lambda n: -1)


def test_real_tickets_are_eight_digits_never_starting_with_zero() -> None:
    for ticket in [new_ticket() for _ in range(200)]:
        assert len(ticket) == 8 and ticket.isascii() and ticket.isdigit()
        assert ticket[0] != "0"
        assert valid_ticket(ticket)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1000000",
        "100000088",
        "1000000a",
        " 10000008",
        "10000008\n",
        "\uff11" + "\uff10" * 6 + "8",  # full-width digits
        "\u0663" + "0000008",  # an Arabic-Indic three: str.isdigit() says yes
    ],
)
def test_valid_ticket_wants_eight_ascii_digits(text: str) -> None:
    assert not valid_ticket(text)


def test_every_single_mistyped_digit_is_caught() -> None:
    for ticket in _sample_tickets(200):
        for place in range(8):
            for digit in "0123456789":
                if digit != ticket[place]:
                    typo = ticket[:place] + digit + ticket[place + 1 :]
                    assert not valid_ticket(typo), (ticket, typo)


def test_adjacent_swaps_are_caught_except_09_and_90() -> None:
    missed = []
    for ticket in _sample_tickets(500):
        for place in range(7):
            a, b = ticket[place], ticket[place + 1]
            if a == b:
                continue
            swapped = ticket[:place] + b + a + ticket[place + 2 :]
            if {a, b} == {"0", "9"}:
                missed.append(valid_ticket(swapped))
            else:
                assert not valid_ticket(swapped), (ticket, swapped)
    # Luhn's one blind spot: 0 and 9 both count 0 or 9 wherever they stand.
    assert missed and all(missed)


@given(BODIES)
def test_any_body_with_its_digit_is_valid_and_no_other_digit_is(body: str) -> None:
    check = luhn_digit(body)
    assert valid_ticket(body + check)
    assert [d for d in "0123456789" if valid_ticket(body + d)] == [check]
