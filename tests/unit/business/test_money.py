"""business.money: the cost formula, prices, traffic, replicas."""

from __future__ import annotations

import pytest

from lathe.business.money import (
    HOURS_PER_MONTH,
    Prices,
    cost_per_million,
    monthly_costs,
    parse_prices,
    parse_traffic,
    price_table,
    replicas_needed,
    training_cost,
)
from lathe.errors import ConfigError, UsageError


@pytest.mark.parametrize("cpu_s, price", [(0.0005, 0.034), (1e-6, 0.05), (0.02, 0.0335)])
def test_cost_per_million_is_the_documented_formula(cpu_s: float, price: float) -> None:
    assert cost_per_million(cpu_s, price) == cpu_s * 1e6 * price / 3600


def test_gpu_time_is_priced_per_gpu_hour() -> None:
    assert cost_per_million(0.0, 0.0, 0.001, 3.6) == pytest.approx(1.0)  # 1000 s at 3.6 /h


def test_prices_from_a_flag_an_instance_a_file_and_the_default(tmp_path) -> None:
    assert parse_prices("cpu_hour=0.034").cpu_hour == 0.034
    both = parse_prices("cpu_hour=0.05, gpu_hour=2")
    assert (both.cpu_hour, both.gpu_hour) == (0.05, 2.0)
    table = price_table()
    default = parse_prices(None)
    assert default.cpu_hour == table["instances"][table["default"]]["cpu_hour"]
    assert parse_prices("aws-c7i.large").cpu_hour == table["instances"]["aws-c7i.large"]["cpu_hour"]
    mine = tmp_path / "prices.yaml"
    mine.write_text("cpu_hour: 0.02\n")
    assert parse_prices(str(mine)).cpu_hour == 0.02
    own_table = tmp_path / "table.yaml"
    own_table.write_text("default: mine\ninstances:\n  mine: {cpu_hour: 0.07}\n")
    assert parse_prices(str(own_table)).cpu_hour == 0.07


@pytest.mark.parametrize("bad", ["cpu_hour=cheap", "cpu_hour=-1", "cpu_hour=nan", "cpu_hr=0.1",
                                 "cpu_hour", "aws-c7i.larg"])
def test_a_price_that_is_not_a_number_is_one_usage_error(bad: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_prices(bad)
    assert "\n" not in str(info.value)


def test_missing_price_file_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError):
        parse_prices(str(tmp_path / "nope.yaml"))


def test_traffic_units() -> None:
    day = parse_traffic("2e6/day")
    assert day["per_second"] == pytest.approx(2e6 / 86400)
    assert day["per_month"] == pytest.approx(2e6 / 86400 * HOURS_PER_MONTH * 3600)
    assert parse_traffic("300/s")["per_second"] == 300
    assert parse_traffic("5e7/month")["per_month"] == pytest.approx(5e7)
    assert parse_traffic("5e7")["per_month"] == pytest.approx(5e7)
    assert parse_traffic(None) is None
    for bad in ("lots/day", "10/fortnight"):
        with pytest.raises(UsageError):
            parse_traffic(bad)


def test_replicas_grow_with_traffic_and_refuse_an_unreachable_target() -> None:
    few = replicas_needed(10, p95_ms=10, mean_ms=5, target_p95_ms=100)
    many = replicas_needed(1000, p95_ms=10, mean_ms=5, target_p95_ms=100)
    assert few == 1 and many is not None and many > few
    # busy at most 1 - 10/100 = 90 %: 1000 rows/s x 5 ms = 5 busy replicas -> 5 / 0.9 -> 6
    assert many == 6
    assert replicas_needed(10, p95_ms=150, mean_ms=50, target_p95_ms=100) is None


def test_monthly_and_training_costs() -> None:
    prices = Prices(0.04, 1.0, "test")
    traffic = parse_traffic("1e6/month")
    costs = monthly_costs(2.5, traffic, 3, prices)
    assert costs["monthly_cost"] == pytest.approx(2.5)
    assert costs["monthly_cost_replicas"] == pytest.approx(3 * HOURS_PER_MONTH * 0.04)
    assert training_cost({"cpu_hours": 2.0, "gpu_hours": 0.5}, prices) == pytest.approx(0.58)
    assert training_cost(None, prices) is None
