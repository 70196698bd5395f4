"""lathe.footprint: CodeCarbon's tracker around work, its fallback, regions and the arithmetic."""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd
import pytest

from lathe.errors import ConfigError
from lathe.footprint import (
    DEFAULT_WATTS_PER_THREAD,
    FootprintTracker,
    kwh_for_cpu_seconds,
    process_cpu_seconds,
    resolve_region,
)

KEYS = {"energy_kwh", "co2_kg", "cpu_hours", "method"}


def _burn(seconds: float) -> None:
    end = process_cpu_seconds() + seconds
    while process_cpu_seconds() < end:
        sum(i * i for i in range(20_000))


def test_kwh_for_cpu_seconds_is_watts_times_seconds() -> None:
    assert kwh_for_cpu_seconds(3.6e6, watts_per_cpu=1.0) == pytest.approx(1.0)
    assert kwh_for_cpu_seconds(7200.0, watts_per_cpu=5.0) == pytest.approx(0.01)


def test_estimate_follows_codecarbons_formula() -> None:
    tracker = FootprintTracker(use_codecarbon=False).start()
    _burn(0.3)
    fp = tracker.stop()
    assert fp["method"] == "tdp-estimate"
    assert KEYS <= set(fp)
    cpu_s = fp["cpu_hours"] * 3600
    assert cpu_s >= 0.3
    # CPU part: CodeCarbon's default 4 W per thread x CPU-seconds
    assert fp["cpu_energy_kwh"] == pytest.approx(cpu_s * DEFAULT_WATTS_PER_THREAD / 3.6e6)
    assert fp["energy_kwh"] == pytest.approx(fp["cpu_energy_kwh"] + fp["ram_energy_kwh"])
    assert fp["co2_kg"] == pytest.approx(fp["energy_kwh"] * 0.475)


def test_codecarbon_tracker_measures_writes_nothing_and_says_nothing(
        tmp_path, monkeypatch, capfd) -> None:
    monkeypatch.chdir(tmp_path)
    tracker = FootprintTracker(region="FR").start()
    _burn(0.5)
    fp = tracker.stop()
    assert fp["method"] in ("codecarbon:cpu-load", "codecarbon:rapl", "codecarbon:tdp-constant")
    assert fp["energy_kwh"] > 0 and fp["co2_kg"] > 0 and fp["cpu_hours"] > 0
    assert fp["region"] == "FRA"
    assert fp["co2_kg"] == pytest.approx(fp["energy_kwh"] * resolve_region("FR").kg_per_kwh)
    assert list(tmp_path.iterdir()) == []  # no emissions.csv, no lock file
    out, err = capfd.readouterr()
    assert out == "" and "codecarbon" not in err.lower()
    assert tracker.power is not None and tracker.power.watts_per_cpu > 0


def test_cpu_energy_matches_codecarbons_own_tracker_around_the_same_work() -> None:
    """lathe's CPU energy (extrapolated to the whole run) against a CodeCarbon tracker that
    is already up: same per-CPU-second rate, within 10 %."""
    from codecarbon import OfflineEmissionsTracker

    ours = FootprintTracker().start()
    theirs = OfflineEmissionsTracker(output_methods=[], log_level="error",
                                     tracking_mode="process", allow_multiple_runs=True)
    theirs.start()
    c0 = process_cpu_seconds()
    _burn(1.0)
    theirs.stop()
    c1 = process_cpu_seconds()
    fp = ours.stop()
    their_rate = theirs.final_emissions_data.cpu_energy / (c1 - c0)
    our_rate = fp["cpu_energy_kwh"] / (fp["cpu_hours"] * 3600)
    assert our_rate == pytest.approx(their_rate, rel=0.10)


def test_cancel_does_not_wait_for_the_hardware_probe() -> None:
    tracker = FootprintTracker().start()
    began = time.perf_counter()
    tracker.cancel()
    assert time.perf_counter() - began < 2.0  # the probe takes seconds; cancel does not wait


def test_regions_from_codecarbons_tables() -> None:
    from codecarbon.input import DataSource

    france = resolve_region("FR")
    assert (france.code, france.name) == ("FRA", "France")
    assert resolve_region("fra").kg_per_kwh == france.kg_per_kwh
    mix = DataSource().get_global_energy_mix_data()
    assert france.kg_per_kwh == pytest.approx(mix["FRA"]["carbon_intensity"] / 1000, rel=0.05)
    assert resolve_region("USA:california").region == "california"
    assert resolve_region(None).kg_per_kwh == 0.475


@pytest.mark.parametrize("bad", ["XX", "Narnia", "USA:atlantis"])
def test_unknown_region_is_one_config_error(bad: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_region(bad)
    assert info.value.exit_code == 78
    assert "python -m lathe.footprint" in info.value.hint
    with pytest.raises(ConfigError):
        FootprintTracker(region=bad).start()


def test_every_trained_manifest_has_an_unrounded_footprint() -> None:
    from lathe.config import load_config
    from lathe.training.run import run_training

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=300), "z": rng.normal(size=300)})
    frame["y"] = np.where(frame.x + frame.z > 0, "a", "b")
    cfg = load_config(None, data__target="y", train__threads=1)
    _, _, manifest, _ = run_training(frame, "frame", cfg)
    fp = manifest["footprint"]
    assert KEYS <= set(fp)
    assert all(isinstance(fp[k], float) and fp[k] > 0 for k in ("energy_kwh", "co2_kg",
                                                              "cpu_hours"))
    assert isinstance(fp["method"], str)
    assert fp["cpu_hours"] * 3600 <= os.cpu_count() * fp["seconds"] + 0.5


def test_a_tracker_that_comes_up_late_still_prices_cpu_at_codecarbons_rate(monkeypatch) -> None:
    """On a busy machine the background thread may record its start long after CodeCarbon's
    own baseline; the CPU energy must not be extrapolated from that misaligned window."""
    import codecarbon

    real_start = codecarbon.OfflineEmissionsTracker.start

    def late_start(self):  # CodeCarbon's baseline now, lathe's thread gets on only later
        real_start(self)
        time.sleep(0.6)

    monkeypatch.setattr(codecarbon.OfflineEmissionsTracker, "start", late_start)
    ours = FootprintTracker().start()
    _burn(0.8)
    fp = ours.stop()
    assert fp["method"] == "codecarbon:cpu-load"
    reference = codecarbon.OfflineEmissionsTracker(output_methods=[], log_level="error",
                                                   tracking_mode="process",
                                                   allow_multiple_runs=True)
    real_start(reference)
    c0 = process_cpu_seconds()
    _burn(0.5)
    reference.stop()
    their_rate = reference.final_emissions_data.cpu_energy / (process_cpu_seconds() - c0)
    our_rate = fp["cpu_energy_kwh"] / (fp["cpu_hours"] * 3600)
    assert our_rate == pytest.approx(their_rate, rel=0.10)
