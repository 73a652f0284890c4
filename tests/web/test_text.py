"""The free-text patterns every room's API uses (callcenter/web/text.py)."""

from __future__ import annotations

import re

import pytest

from callcenter.web.text import LINES, ONE_LINE


@pytest.mark.parametrize(
    "text",
    [
        "",
        "客户要求回电",
        "Refund 50 CNY, 周五 10:00",
        "Ünïcödé — ok",
        "emoji 🙂",
        "\u0645\u0631\u062d\u0628\u0627",
    ],
)
def test_printable_text_in_any_script_is_accepted(text: str) -> None:
    assert re.fullmatch(ONE_LINE, text) and re.fullmatch(LINES, text)


def test_lines_and_tabs_only_where_lines_are_allowed() -> None:
    assert re.fullmatch(LINES, "第一行\n第二行\r\n\tindented")
    assert not re.fullmatch(ONE_LINE, "one\ntwo")
    assert not re.fullmatch(ONE_LINE, "a\tb")


@pytest.mark.parametrize(
    "bad",
    [
        "\x00",
        "\x1b[31m",
        "\x7f",
        "\x0b",
        "refund \u202e05",  # right-to-left override
        "\u202a embedded",
        "\u2066isolated\u2069",
    ],
)
def test_control_and_reordering_characters_are_refused(bad: str) -> None:
    assert not re.fullmatch(ONE_LINE, bad)
    assert not re.fullmatch(LINES, bad)
