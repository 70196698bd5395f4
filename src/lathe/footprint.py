"""Energy, carbon and CPU time of a piece of work, with CodeCarbon's numbers.

Training, tuning and compression wrap their work in a `FootprintTracker`; its `stop()` gives
the manifest's `footprint` section. `lathe decide` turns measured CPU-seconds per prediction
into kWh with the `PowerModel` of a tracker that ran around its measurements, so both use
the same source. This module sits at the bottom of the layers (it imports only
`lathe.errors`; CodeCarbon is imported inside functions) because training uses it.

How the figures are made:

* **energy** — CodeCarbon's `OfflineEmissionsTracker` (no network; `tracking_mode="process"`:
  this process and its children, not the other jobs of a shared machine). Where the kernel
  exposes RAPL counters (`/sys/class/powercap/intel-rapl`) CodeCarbon reads them and
  `method` is "codecarbon:rapl"; otherwise it uses its CPU-power model, TDP x the process's
  share of the CPUs ("codecarbon:cpu-load"), plus its RAM-power model. Without CodeCarbon
  (or when it fails) lathe applies CodeCarbon's documented formula itself with its default
  power per CPU thread (4 W) and says `method="tdp-estimate"`.
* **CO2** — energy x the carbon intensity of the region (`region`: a 2- or 3-letter ISO
  country code, or `USA:california`-style country:region for the regional tables), taken
  from CodeCarbon's own offline tables; no region: CodeCarbon's world average (475 g/kWh).
* **cpu_hours** — the process's CPU time (`resource.getrusage`, user + system, this process
  and its waited-for children, e.g. tuning workers), so it does not depend on the machine's
  other load.

CodeCarbon's hardware probe costs seconds the first time in a process (py-cpuinfo), so the
tracker starts in a background thread and work is not held up; the CPU time spent before it
was up is added at the rate it then measures (exact for the CPU-load model, which is linear
in CPU-seconds), and `tracked_share` says how much of the CPU time it saw itself.

>>> kwh_for_cpu_seconds(3600.0, watts_per_cpu=10.0)
0.01
>>> tracker = FootprintTracker(use_codecarbon=False).start()
>>> sum(i * i for i in range(200_000)) > 0
True
>>> fp = tracker.stop()
>>> fp["method"], fp["energy_kwh"] > 0, fp["cpu_hours"] > 0
('tdp-estimate', True, True)
"""

from __future__ import annotations

import logging
import os
import resource
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from lathe.errors import ConfigError

__all__ = ["FootprintTracker", "PowerModel", "Region", "resolve_region", "known_regions",
           "kwh_for_cpu_seconds", "process_cpu_seconds", "WORLD_AVERAGE_KG_PER_KWH",
           "DEFAULT_WATTS_PER_THREAD"]

WORLD_AVERAGE_KG_PER_KWH = 0.475  # CodeCarbon's world average (IEA 2019), g/kWh / 1000
DEFAULT_WATTS_PER_THREAD = 4.0  # CodeCarbon's DEFAULT_POWER_PER_CORE for a CPU it does not know
RAM_WATTS_PER_GB = 3.0 / 8.0  # CodeCarbon's documented RAM rule: 3 W per 8 GB
_START_WAIT_S = 30.0  # how long stop() waits for a tracker still probing the hardware


def process_cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its terminated, waited-for children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def kwh_for_cpu_seconds(cpu_seconds: float, *, watts_per_cpu: float) -> float:
    """Energy of `cpu_seconds` of CPU time at `watts_per_cpu` (watts per busy CPU thread)."""
    return cpu_seconds * watts_per_cpu / 3.6e6


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024  # KiB on Linux


def _cpu_mode(tracker: Any) -> str:
    """How CodeCarbon read the CPU: "rapl" (energy counters), "cpu-load" (its TDP x load
    model) or "tdp-constant" (half the TDP, when it could not read the load)."""
    shown = repr(getattr(tracker, "_hardware", "")).lower()
    if "rapl" in shown or "emi" in shown:
        return "rapl"
    return "cpu-load" if "cpu load" in shown else "tdp-constant"


def _cpu_load_watts_per_cpu_second(tracker: Any) -> float | None:
    """CodeCarbon's CPU-load model as a rate: TDP / CPU threads watts per busy CPU-second
    (its `CPU._get_power_from_cpu_load`); None when its CPU object does not show them."""
    for hardware in getattr(tracker, "_hardware", []) or []:
        tdp, threads = getattr(hardware, "_tdp", None), getattr(hardware, "_cpu_count", None)
        if type(hardware).__name__ == "CPU" and tdp and threads:
            return float(tdp) / float(threads)
    return None


# ---- carbon intensity ----------------------------------------------------------------------
@dataclass(frozen=True)
class Region:
    """Where the electricity comes from: ISO code, region, name, kg CO2 per kWh, source."""

    code: str | None
    region: str | None
    name: str
    kg_per_kwh: float
    source: str


def known_regions() -> list[str]:
    """Codes CodeCarbon has offline data for: ISO-3 countries and COUNTRY:region pairs."""
    from codecarbon.input import DataSource

    source = DataSource()
    codes = sorted(source.get_global_energy_mix_data())
    for country in ("usa", "can"):
        try:
            table = (source.get_country_emissions_data(country) if country == "usa"
                     else source.get_country_energy_mix_data(country))
        except Exception:  # a table CodeCarbon dropped: list the countries only
            continue
        codes += [f"{country.upper()}:{name}" for name in sorted(table)]
    return codes


def _unknown_region(text: str) -> ConfigError:
    return ConfigError(
        f"region {text!r} is not one CodeCarbon has carbon-intensity data for",
        hint="use an ISO country code such as FR, DEU or USA (or USA:california, "
             "CAN:ontario); `python -m lathe.footprint` lists every valid one",
        field="region")


def resolve_region(text: str | None) -> Region:
    """The carbon intensity of `text` from CodeCarbon's offline tables (world average for None).

    >>> resolve_region(None).kg_per_kwh
    0.475
    >>> resolve_region("FR").code
    'FRA'
    """
    if text is None or not str(text).strip():
        return Region(None, None, "world average", WORLD_AVERAGE_KG_PER_KWH,
                      "codecarbon world average")
    raw = str(text).strip()
    country, _, sub = raw.partition(":")
    country = country.strip().upper()
    try:
        from codecarbon.core.emissions import Emissions
        from codecarbon.core.units import Energy
        from codecarbon.external.geography import GeoMetadata
        from codecarbon.input import DataSource
    except ImportError:
        raise ConfigError(f"region {raw!r} needs CodeCarbon's tables",
                          hint="pip install codecarbon, or drop the region") from None
    if len(country) == 2:
        import pycountry  # a CodeCarbon dependency

        found = pycountry.countries.get(alpha_2=country)
        country = found.alpha_3 if found else country
    source = DataSource()
    mix = source.get_global_energy_mix_data()
    if country not in mix:
        raise _unknown_region(raw)
    region = sub.strip().lower() or None
    _quiet_codecarbon()
    if region is not None and region not in _regions_of(source, country):
        raise _unknown_region(raw)
    geo = GeoMetadata(country_iso_code=country, country_name=mix[country]["country_name"],
                      region=region)
    kg = Emissions(source).get_private_infra_emissions(Energy.from_energy(kWh=1.0), geo)
    name = mix[country]["country_name"] + (f" ({region})" if region else "")
    return Region(country, region, name, float(kg), "codecarbon offline tables")


def _regions_of(source: Any, country: str) -> set[str]:
    try:
        if country == "USA":
            return set(source.get_country_emissions_data("usa"))
        if country == "CAN":
            return set(source.get_country_energy_mix_data("can"))
    except Exception:
        return set()
    return set()


# ---- the power model -----------------------------------------------------------------------
@dataclass(frozen=True)
class PowerModel:
    """Watts drawn per busy CPU thread (CPU + its share of RAM), and where the figure is from.

    `watts_per_cpu` x CPU-seconds = joules; that is how `decide` prices predictions.
    """

    method: str
    watts_per_cpu: float
    cpu_watts_per_thread: float
    ram_watts: float
    threads: int
    cpu_model: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def estimate(cls) -> PowerModel:
        """CodeCarbon's documented default without CodeCarbon: 4 W per thread, 3 W per 8 GB."""
        threads = os.cpu_count() or 1
        ram = max(_peak_rss_gb(), 1e-3) * RAM_WATTS_PER_GB
        return cls("tdp-estimate", DEFAULT_WATTS_PER_THREAD + ram / threads,
                   DEFAULT_WATTS_PER_THREAD, ram, threads)


# ---- the tracker ---------------------------------------------------------------------------
def _quiet_codecarbon() -> None:
    logging.getLogger("codecarbon").setLevel(logging.ERROR)


class FootprintTracker:
    """Wrap a piece of work; `stop()` returns the manifest's footprint section.

    Never writes files (CodeCarbon's `output_methods=[]`), logs only CodeCarbon errors,
    and never fails the work it measures: any CodeCarbon failure falls back to the estimate.
    """

    def __init__(self, region: str | None = None, *, use_codecarbon: bool = True,
                 measure_power_secs: float = 15.0) -> None:
        self.region_text = region
        self.use_codecarbon = use_codecarbon
        self.measure_power_secs = measure_power_secs
        self._tracker: Any = None
        self._thread: threading.Thread | None = None
        self._error: str | None = None
        self._cpu0 = self._wall0 = 0.0
        self._cpu_at_start: float | None = None
        self._wall_at_start: float | None = None
        self._geo: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._cancelled = False
        self.power: PowerModel | None = None

    def start(self) -> FootprintTracker:
        """Start measuring now (a bad region is a ConfigError here, before any work)."""
        self._geo = self._geo_kwargs() if self.use_codecarbon else {}
        self._cpu0, self._wall0 = process_cpu_seconds(), time.perf_counter()
        if self.use_codecarbon:
            self._thread = threading.Thread(target=self._start_codecarbon, daemon=True,
                                            name="lathe-footprint")
            self._thread.start()
        return self

    def __enter__(self) -> FootprintTracker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None or self._tracker is not None:
            self.footprint = self.stop()

    def _start_codecarbon(self) -> None:
        try:
            from codecarbon import OfflineEmissionsTracker

            _quiet_codecarbon()  # after the import, which sets its own level

            tracker = OfflineEmissionsTracker(
                output_methods=[], log_level="error", tracking_mode="process",
                allow_multiple_runs=True, measure_power_secs=self.measure_power_secs,
                project_name="lathe", **self._geo)
            tracker.start()
            with self._lock:
                if self._cancelled:
                    tracker.stop()
                    return
                self._cpu_at_start = process_cpu_seconds()
                self._wall_at_start = time.perf_counter()
                self._tracker = tracker
        except Exception as error:  # CodeCarbon must never fail the work it measures
            self._error = f"{type(error).__name__}: {error}"

    def _geo_kwargs(self) -> dict[str, Any]:
        if self.region_text is None:
            return {}
        region = resolve_region(self.region_text)
        return {k: v for k, v in (("country_iso_code", region.code), ("region", region.region))
                if v is not None}

    def wait_ready(self, timeout: float = _START_WAIT_S) -> FootprintTracker:
        """Block until CodeCarbon is up (its hardware probe runs Python in this process, so
        code that times CPU should not run beside it)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self

    def cancel(self) -> None:
        """Stop without a result and without waiting for a tracker still starting up."""
        with self._lock:
            self._cancelled = True
            tracker, self._tracker, self._thread = self._tracker, None, None
        if tracker is not None:
            try:
                tracker.stop()
            except Exception:  # nothing to report: the work itself failed
                pass

    def stop(self) -> dict[str, Any]:
        """Stop and return {energy_kwh, co2_kg, cpu_hours, method, ...} (unrounded)."""
        if self._thread is not None:
            self._thread.join(_START_WAIT_S)
            self._thread = None
        cpu = max(process_cpu_seconds() - self._cpu0, 0.0)
        wall = max(time.perf_counter() - self._wall0, 0.0)
        tracker, self._tracker = self._tracker, None
        if tracker is not None:
            try:
                return self._from_codecarbon(tracker, cpu, wall)
            except Exception as error:
                self._error = f"{type(error).__name__}: {error}"
        return self._estimate(cpu, wall)

    def _from_codecarbon(self, tracker: Any, cpu: float, wall: float) -> dict[str, Any]:
        import codecarbon

        tracker.stop()
        data = tracker.final_emissions_data
        seen_cpu = max(process_cpu_seconds() - (self._cpu_at_start or self._cpu0), 1e-9)
        seen_wall = max(time.perf_counter() - (self._wall_at_start or self._wall0), 1e-9)
        wall_scale = max(wall / seen_wall, 1.0)
        mode = _cpu_mode(tracker)
        load_rate = _cpu_load_watts_per_cpu_second(tracker) if mode == "cpu-load" else None
        if load_rate is not None:
            # CodeCarbon's load model is TDP / threads x the process's CPU-seconds, so the
            # whole run's CPU time priced at that rate is its own figure, with no window to
            # align (extrapolating from the tracked window alone went wrong by 50x when the
            # tracker came up late on a busy machine)
            cpu_w = load_rate
            cpu_kwh = kwh_for_cpu_seconds(cpu, watts_per_cpu=cpu_w)
        else:  # energy counters or a constant: the time before the tracker was up, scaled
            cpu_w = float(data.cpu_energy) * 3.6e6 / seen_cpu if data.cpu_energy else 0.0
            cpu_kwh = float(data.cpu_energy) * (max(cpu / seen_cpu, 1.0) if mode == "rapl"
                                                else wall_scale)
        ram_kwh = float(data.ram_energy) * wall_scale
        gpu_kwh = float(data.gpu_energy) * wall_scale
        energy = cpu_kwh + ram_kwh + gpu_kwh
        measured = float(data.energy_consumed)
        intensity = float(data.emissions) / measured if measured > 0 else \
            resolve_region(self.region_text).kg_per_kwh
        threads = int(data.cpu_count or os.cpu_count() or 1)
        ram_w = float(data.ram_power or 0.0)
        self.power = PowerModel(f"codecarbon:{mode}", cpu_w + ram_w / threads, cpu_w, ram_w,
                                threads, data.cpu_model or None)
        return {
            "energy_kwh": energy,
            "co2_kg": energy * intensity,
            "cpu_hours": cpu / 3600.0,
            "method": f"codecarbon:{mode}",
            "seconds": wall,
            "cpu_energy_kwh": cpu_kwh,
            "ram_energy_kwh": ram_kwh,
            "gpu_energy_kwh": gpu_kwh,
            "gpu_hours": 0.0 if not data.gpu_count else wall * int(data.gpu_count) / 3600.0,
            "carbon_intensity_kg_per_kwh": intensity,
            "region": self._region_label(data),
            "cpu_model": data.cpu_model or None,
            "cpu_watts_per_thread": cpu_w,
            "ram_watts": ram_w,
            "tracked_share": min(seen_cpu / cpu, 1.0) if cpu > 0 else 1.0,
            "codecarbon_version": codecarbon.__version__,
        }

    def _region_label(self, data: Any) -> str:
        if data.country_iso_code:
            return data.country_iso_code + (f":{data.region}" if data.region else "")
        return "world average"

    def _estimate(self, cpu: float, wall: float) -> dict[str, Any]:
        power = PowerModel.estimate()
        self.power = power
        try:
            region = resolve_region(self.region_text)
        except ConfigError:
            region = resolve_region(None)
        cpu_kwh = kwh_for_cpu_seconds(cpu, watts_per_cpu=power.cpu_watts_per_thread)
        ram_kwh = power.ram_watts * wall / 3.6e6
        energy = cpu_kwh + ram_kwh
        out = {
            "energy_kwh": energy,
            "co2_kg": energy * region.kg_per_kwh,
            "cpu_hours": cpu / 3600.0,
            "method": "tdp-estimate",
            "seconds": wall,
            "cpu_energy_kwh": cpu_kwh,
            "ram_energy_kwh": ram_kwh,
            "gpu_energy_kwh": 0.0,
            "gpu_hours": 0.0,
            "carbon_intensity_kg_per_kwh": region.kg_per_kwh,
            "region": region.code or "world average",
            "cpu_watts_per_thread": power.cpu_watts_per_thread,
            "ram_watts": power.ram_watts,
        }
        if self._error:
            out["codecarbon_error"] = self._error
        return out


if __name__ == "__main__":  # python -m lathe.footprint: the regions CodeCarbon knows
    print("\n".join(known_regions()))
