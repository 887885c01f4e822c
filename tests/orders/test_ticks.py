"""The one tick rounding (:mod:`mixbot.orders.ticks`): exact decimals, an explicit direction,
and the paper broker and the Upstox order rules agree on it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mixbot.brokers.paper import round_to_tick as paper_round
from mixbot.orders.ticks import round_to_tick
from mixbot.venues.upstox.execution.order_rules import round_to_tick as upstox_round

TICKS = st.sampled_from([0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0])
PRICES = st.decimals(min_value="0.01", max_value="200000", places=4).map(float)


def test_half_tick_goes_up_everywhere() -> None:
    # 259.825 is a half tick between 259.80 and 259.85 (tick 0.05): half-up gives 259.85,
    # the old float paper broker gave 259.80 (259.825 / 0.05 = 5196.4999... in binary)
    assert round_to_tick(259.825, 0.05, "nearest") == 259.85
    assert paper_round(259.825, 0.05, "nearest") == 259.85
    assert upstox_round(259.825, 0.05, "nearest") == 259.85
    assert round_to_tick(259.825, 0.05, "down") == 259.80
    assert round_to_tick(259.825, 0.05, "up") == 259.85


def test_on_grid_prices_stay_and_float_noise_costs_no_tick() -> None:
    assert round_to_tick(0.1 + 0.2, 0.05, "up") == 0.3
    assert round_to_tick(0.1 + 0.2, 0.05, "down") == 0.3
    assert round_to_tick(2500.0, 0.05, "up") == 2500.0
    assert round_to_tick(10.02, 0.05, "nearest") == 10.0
    assert round_to_tick(10.03, 0.05, "nearest") == 10.05


def test_bad_tick_and_direction_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="tick must be > 0"):
        round_to_tick(100.0, 0.0, "up")
    with pytest.raises(ValueError, match="direction must be up, down or nearest"):
        round_to_tick(100.0, 0.05, "sideways")  # type: ignore[arg-type]


def _steps(x: float, tick: float) -> Decimal:
    return Decimal(str(x)) / Decimal(str(tick))


@given(PRICES, TICKS)
def test_result_is_a_tick_multiple_near_the_price(price: float, tick: float) -> None:
    t = Decimal(str(tick))
    p = Decimal(str(price))
    near = round_to_tick(price, tick, "nearest")
    down = round_to_tick(price, tick, "down")
    up = round_to_tick(price, tick, "up")
    for r in (near, down, up):
        assert _steps(r, tick) == _steps(r, tick).to_integral_value()
    assert abs(Decimal(str(near)) - p) <= t / 2
    assert Decimal(str(down)) <= p < Decimal(str(down)) + t
    assert Decimal(str(up)) - t < p <= Decimal(str(up))
    assert paper_round(price, tick, "nearest") == upstox_round(price, tick, "nearest") == near


@given(st.integers(min_value=1, max_value=4_000_000), TICKS)
def test_exact_half_ticks_round_up(n: int, tick: float) -> None:
    t = Decimal(str(tick))
    half = n * t + t / 2
    assert Decimal(str(round_to_tick(float(half), tick, "nearest"))) == (n + 1) * t
