"""How many CPU threads a LightGBM fit uses when the caller did not say: what is free now.

LightGBM (and torch) run OpenMP thread teams whose idle threads spin while they wait. When
other processes hold the cores, a spinning thread burns the time slice its partner needs,
and a 2-thread fit collapses: `train --preset fast` on Adult took 41-100 s instead of 3.3 s
beside one busy process on 2 cores (5.5 s with OMP_NUM_THREADS=1; bench/threads.py has the
figures). So, by default:

* threads = the cores this process may run on (`os.sched_getaffinity`) minus the other
  processes running right now (`procs_running` in /proc/stat, the median of three readings
  10 ms apart, without this process), at least 1. The 1-minute load average is no use here:
  it lags a minute behind a load that starts with the fit.
* OpenMP threads wait passively (`OMP_WAIT_POLICY=PASSIVE`, set before LightGBM or torch
  load their OpenMP runtime unless the user set it), so a load that starts mid-fit slows
  the fit instead of collapsing it.

An explicit count (`--threads N`, `train.threads`, `threads=` in the API) is used as given.
With `deterministic=True` and row-wise histograms (lathe's GBM settings) the model does not
depend on the thread count (tests/unit/models/test_threads.py checks it), so a count that
follows the load does not make runs differ. Torch families keep their thread count (all
cores unless given: their sums may depend on it) and wait passively too.

>>> fit_threads(3)
3
>>> 1 <= fit_threads(None) <= available_cores()
True
>>> threads_for(cores=2, others_running=0), threads_for(cores=2, others_running=2)
(2, 1)
"""

from __future__ import annotations

import os
import time

__all__ = ["fit_threads", "available_cores", "others_running", "threads_for",
           "prefer_passive_openmp"]

_STAT = "/proc/stat"


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity; the CPU count elsewhere)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _procs_running() -> int | None:
    try:
        with open(_STAT, encoding="ascii") as handle:
            for line in handle:
                if line.startswith("procs_running "):
                    return int(line.split()[1])
    except (OSError, ValueError):  # pragma: no cover - not Linux
        return None
    return None  # pragma: no cover


def others_running(samples: int = 3, gap_s: float = 0.01) -> int | None:
    """Runnable threads of other processes now (median of `samples` readings), or None
    where the kernel does not say. The reading thread itself is running: not counted."""
    readings = []
    for i in range(samples):
        value = _procs_running()
        if value is None:
            return None
        readings.append(value - 1)
        if i + 1 < samples:
            time.sleep(gap_s)
    readings.sort()
    return max(0, readings[len(readings) // 2])


def threads_for(*, cores: int, others_running: int | None) -> int:
    """The policy as a pure function: the cores nobody else is using, at least one."""
    if others_running is None:
        return cores
    return max(1, min(cores, cores - others_running))


def fit_threads(requested: int | None) -> int:
    """Threads for one fit: `requested` when given, else what is free now (see above)."""
    if requested:
        return int(requested)
    return threads_for(cores=available_cores(), others_running=others_running())


def prefer_passive_openmp() -> None:
    """Make OpenMP threads sleep while they wait, unless the user chose (call before the
    OpenMP runtime loads: it reads the variable once)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
