"""Money: prices, traffic, $ per million predictions, replicas and monthly cost (pure functions).

The cost of a prediction is the CPU time it takes (measured, process CPU time, not wall time)
at a price per CPU-hour:

    cost_per_million = cpu_seconds_per_row x 1e6 x price_per_cpu_hour / 3600

Prices come from `--price cpu_hour=0.034[,gpu_hour=1.2]`, from an instance name in the table
of common instances (`prices.yaml` next to this module: approximate on-demand list prices per
vCPU-hour, USD), or from the user's YAML file with the same shape.

>>> cost_per_million(0.0005, 0.034)
0.004722222222222222
>>> round(parse_traffic("2e6/day")["per_month"])
60833333
>>> replicas_needed(100.0, p95_ms=20.0, mean_ms=5.0, target_p95_ms=100.0)
1
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lathe.errors import ConfigError, UsageError

__all__ = ["Prices", "parse_prices", "parse_traffic", "cost_per_million", "replicas_needed",
           "monthly_costs", "training_cost", "HOURS_PER_MONTH", "price_table"]

HOURS_PER_MONTH = 730.0  # 365 x 24 / 12, the cloud providers' month
_PER = {"s": 1.0, "sec": 1.0, "second": 1.0, "min": 60.0, "minute": 60.0, "h": 3600.0,
        "hour": 3600.0, "d": 86400.0, "day": 86400.0, "month": HOURS_PER_MONTH * 3600.0}
_TABLE = Path(__file__).with_name("prices.yaml")


@dataclass(frozen=True)
class Prices:
    """USD per CPU-hour (one vCPU) and per GPU-hour, and where they come from."""

    cpu_hour: float
    gpu_hour: float
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"cpu_hour": self.cpu_hour, "gpu_hour": self.gpu_hour, "source": self.source}


def _number(text: Any, what: str, where: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise UsageError(f"{where}: {what} must be a number, got {text!r}",
                         hint="give a plain number of US dollars, such as 0.034") from None
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"{where}: {what} must be a finite number >= 0, got {text!r}")
    return value


def price_table(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The instance price table: {"default": name, "instances": {name: {cpu_hour, ...}}}."""
    import yaml

    file = Path(path) if path is not None else _TABLE
    try:
        table = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{file}: cannot read the price table ({error})", file=str(file)) \
            from None
    if not isinstance(table, dict):
        raise ConfigError(f"{file}: expected a mapping of prices", file=str(file))
    return table


def _from_mapping(raw: dict[str, Any], where: str, base: Prices) -> Prices:
    unknown = sorted(set(raw) - {"cpu_hour", "gpu_hour"})
    if unknown:
        raise UsageError(f"{where}: unknown price {unknown[0]!r}",
                         hint="the prices are cpu_hour and gpu_hour (USD per hour of one CPU / GPU)")
    cpu = _number(raw["cpu_hour"], "cpu_hour", where) if "cpu_hour" in raw else base.cpu_hour
    gpu = _number(raw["gpu_hour"], "gpu_hour", where) if "gpu_hour" in raw else base.gpu_hour
    return Prices(cpu, gpu, where)


def parse_prices(spec: str | None = None, table: str | os.PathLike[str] | None = None) -> Prices:
    """`cpu_hour=0.034[,gpu_hour=1.2]`, an instance name from the table, a YAML file, or None
    (the table's default instance).

    >>> parse_prices("cpu_hour=0.05").cpu_hour
    0.05
    """
    prices = price_table(table)
    instances = prices.get("instances") or {}
    default_name = prices.get("default")
    if default_name not in instances:
        raise ConfigError(f"price table: default {default_name!r} is not one of its instances")
    default = _from_mapping(dict(instances[default_name]), f"instance {default_name}",
                            Prices(0.0, 0.0, ""))
    if spec is None or not str(spec).strip():
        return default
    text = str(spec).strip()
    if text in instances:
        return _from_mapping(dict(instances[text]), f"instance {text}", default)
    if "=" in text:
        pairs = {}
        for part in text.split(","):
            key, sep, value = part.partition("=")
            if not sep:
                raise UsageError(f"--price {text!r}: {part!r} is not key=value",
                                 hint="give comma-separated pairs of a price name, an equals sign and a "
                                      "number (see lathe decide --help)")
            pairs[key.strip()] = value.strip()
        return _from_mapping(pairs, "--price", default)
    file = Path(text)
    if file.suffix.lower() in (".yaml", ".yml"):
        if not file.exists():
            raise ConfigError(f"{file}: no such price file", file=str(file))
        mine = price_table(file)
        if "instances" in mine:
            return parse_prices(mine.get("default"), file)
        return _from_mapping(mine, str(file), default)
    from lathe.errors import did_you_mean

    raise UsageError(f"--price {text!r} is neither cpu_hour=USD, a YAML file nor a known "
                     f"instance{did_you_mean(text, instances)}",
                     hint=f"instances: {', '.join(sorted(instances))}")


def parse_traffic(spec: str | float | None) -> dict[str, Any] | None:
    """`2e6/day`, `300/s`, `5e7/month` (a bare number is per month) -> rates."""
    if spec is None:
        return None
    text = str(spec).strip().replace("_", "")
    amount, _, unit = text.partition("/")
    unit = unit.strip().lower().removesuffix("s") if unit.strip().lower() not in ("s",) \
        else "s"
    if unit and unit not in _PER:
        raise UsageError(f"--traffic {spec!r}: unknown unit {unit!r}",
                         hint="e.g. 2e6/day, 300/s, 5e7/month")
    count = _number(amount, "the traffic", f"--traffic {spec!r}")
    per_second = count / _PER[unit or "month"]
    return {"per_second": per_second, "per_month": per_second * HOURS_PER_MONTH * 3600.0,
            "text": str(spec)}


def cost_per_million(cpu_seconds_per_row: float, price_per_cpu_hour: float,
                     gpu_seconds_per_row: float = 0.0, price_per_gpu_hour: float = 0.0) -> float:
    """USD per 1M predictions from measured CPU (and GPU) seconds per row."""
    return (cpu_seconds_per_row * 1e6 * price_per_cpu_hour / 3600.0
            + gpu_seconds_per_row * 1e6 * price_per_gpu_hour / 3600.0)


def replicas_needed(rows_per_second: float, *, p95_ms: float, mean_ms: float,
                    target_p95_ms: float) -> int | None:
    """Single-CPU replicas that serve `rows_per_second` one row at a time with p95 under target.

    A replica busy a share rho of the time stretches latency by about 1/(1 - rho) (M/M/1), so
    it may be busy at most rho = 1 - p95/target; None when even an idle replica's p95 misses
    the target.
    """
    if p95_ms >= target_p95_ms:
        return None
    rho = 1.0 - p95_ms / target_p95_ms
    capacity = rho * 1000.0 / max(mean_ms, 1e-9)  # rows per second per replica
    return max(1, math.ceil(rows_per_second / capacity - 1e-12))


def monthly_costs(cost_per_million_usd: float, traffic: dict[str, Any] | None,
                  replicas: int | None, prices: Prices) -> dict[str, Any]:
    """Monthly USD at the traffic: CPU time used, and the replicas kept running."""
    if traffic is None:
        return {"monthly_cost": None, "monthly_cost_replicas": None}
    return {
        "monthly_cost": cost_per_million_usd * traffic["per_month"] / 1e6,
        "monthly_cost_replicas": None if replicas is None
        else replicas * HOURS_PER_MONTH * prices.cpu_hour,
    }


def training_cost(footprint: dict[str, Any] | None, prices: Prices) -> float | None:
    """USD of a training run from its manifest footprint's CPU- (and GPU-) hours."""
    if not footprint or footprint.get("cpu_hours") is None:
        return None
    return (float(footprint["cpu_hours"]) * prices.cpu_hour
            + float(footprint.get("gpu_hours") or 0.0) * prices.gpu_hour)
