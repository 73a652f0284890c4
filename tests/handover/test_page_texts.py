"""The handover page has a text, in Chinese and in English, for every error the API can give
it (the room's own refusals and the web layer's), and for every reason an item is ownerless."""

from __future__ import annotations

import re
import typing

import pytest

from callcenter.handover import problems
from callcenter.handover.api import STATIC_DIR, OwnerlessItem
from callcenter.web import errors
from callcenter.web.errors import Problem

WEB = ["not-logged-in", "forbidden", "invalid-body", "invalid-query", "invalid-path", "bad-json"]


def texts(lang: str) -> set[str]:
    source = (STATIC_DIR / "i18n.js").read_text(encoding="utf-8")
    start = source.index(f"  {lang}: {{")
    end = source.index("\n  },", start)
    return set(re.findall(r'"?([A-Za-z_][\w-]*)"?\s*:', source[start:end]))


def codes() -> set[str]:
    found = {p.error for p in vars(problems).values() if isinstance(p, Problem)}
    return found | set(WEB) | {errors.DATABASE_UNAVAILABLE.error}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_error_and_every_reason_has_a_text(lang: str) -> None:
    keys = texts(lang)
    assert {f"err_{code}" for code in codes()} - keys == set()
    whys = typing.get_args(OwnerlessItem.model_fields["why"].annotation)
    assert {f"why_{w.replace('-', '_')}" for w in whys} - keys == set()
