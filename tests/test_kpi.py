from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter import kpi


def test_offered_leaves_out_short_abandons() -> None:
    assert kpi.offered(answered=80, abandoned=15, timeouts=5, short_abandons=3) == 97
    assert kpi.offered(0, 0, 0) == 0
    with pytest.raises(ValueError):
        kpi.offered(1, 2, 0, short_abandons=3)
    with pytest.raises(ValueError):
        kpi.offered(-1, 0, 0)


def test_is_short_abandon_is_strict() -> None:
    assert kpi.is_short_abandon(4.9, 5)
    assert not kpi.is_short_abandon(5.0, 5)
    assert not kpi.is_short_abandon(0.0, 0)  # threshold 0 disables it


def test_service_level_two_ways() -> None:
    # 80 answered of which 60 within T; 15 abandons (3 short) and 5 timeouts.
    assert kpi.service_level_of_answered(60, 80) == 0.75
    assert kpi.service_level_of_offered(60, 80, 15, 5, 3) == pytest.approx(60 / 97)
    assert kpi.service_level_of_answered(0, 0) is None
    assert kpi.service_level_of_offered(0, 0, 2, 0, 2) is None  # only short abandons
    assert kpi.service_level_of_offered(0, 0, 1, 0) == 0.0  # one real abandon: 0 %, not None
    with pytest.raises(ValueError):
        kpi.service_level_of_answered(3, 2)


def test_abandon_and_answer_rates() -> None:
    assert kpi.abandon_rate(abandoned=15, answered=80, timeouts=5, short_abandons=3) == (
        pytest.approx(12 / 97)
    )
    assert kpi.answer_rate(answered=80, abandoned=15, timeouts=5, short_abandons=3) == (
        pytest.approx(80 / 97)
    )
    assert kpi.abandon_rate(0, 0, 0) is None
    assert kpi.answer_rate(0, 0, 0) is None
    assert kpi.answer_rate(0, 0, 1) == 0.0


def test_asa_aht_occupancy() -> None:
    assert kpi.asa(total_wait_seconds=240, answered=8) == 30
    assert kpi.asa(0, 0) is None
    assert kpi.aht(total_talk_seconds=1800, total_wrapup_seconds=300, handled=10) == 210
    assert kpi.aht(0, 0, 0) is None
    assert kpi.occupancy(handling=45, idle=15) == 0.75
    assert kpi.occupancy(0, 0) is None
    with pytest.raises(ValueError):
        kpi.aht(-1, 0, 1)


def test_quality_rates() -> None:
    assert kpi.satisfaction_rate(satisfied=93, responses=100) == 0.93
    assert kpi.satisfaction_rate(0, 0) is None
    assert kpi.complaint_rate(complaints=4, handled=100) == 0.04
    assert kpi.complaint_rate(0, 0) is None
    assert kpi.complaint_resolution_rate(resolved=3, complaints=4) == 0.75
    assert kpi.complaint_resolution_rate(0, 0) is None
    assert kpi.follow_up_on_time_rate(on_time=9, due=10) == 0.9
    assert kpi.follow_up_on_time_rate(0, 0) is None
    with pytest.raises(ValueError):
        kpi.satisfaction_rate(5, 4)


counts = st.integers(0, 10_000)


@given(counts, counts, counts, counts, st.data())
def test_rates_are_fractions_and_add_up(
    answered: int, abandoned: int, timeouts: int, within: int, data: st.DataObject
) -> None:
    short = data.draw(st.integers(0, abandoned))
    within = min(within, answered)
    rates = [
        kpi.service_level_of_answered(within, answered),
        kpi.service_level_of_offered(within, answered, abandoned, timeouts, short),
        kpi.abandon_rate(abandoned, answered, timeouts, short),
        kpi.answer_rate(answered, abandoned, timeouts, short),
    ]
    for rate in rates:
        assert rate is None or 0.0 <= rate <= 1.0
    answer = kpi.answer_rate(answered, abandoned, timeouts, short)
    abandon = kpi.abandon_rate(abandoned, answered, timeouts, short)
    if kpi.offered(answered, abandoned, timeouts, short) == 0:
        assert answer is None and abandon is None
    else:
        assert answer is not None and abandon is not None
        timeout_share = timeouts / kpi.offered(answered, abandoned, timeouts, short)
        assert answer + abandon + timeout_share == pytest.approx(1.0)
