"""Nothing is lost: kill -9 the consumer mid-stream, start it again, and every input id has
an output (duplicates allowed, counted); SIGTERM finishes what it holds and loses nothing,
duplicates none."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

N = 1500


def _wait_for_outputs(broker: Any, queue: str, at_least: int, proc: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        if broker.do("count", queue) >= at_least:
            return
        time.sleep(0.05)
    raise AssertionError(f"no output on {queue} within {timeout:.0f} s")


def _finish(broker: Any, names: dict[str, str], model: Path, tools: Any) -> dict[str, Any]:
    done = subprocess.run(tools.command(model, broker.kind, names, "--idle-exit", "4",
                                        "--json"), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_kill_minus_9_mid_stream_loses_nothing(
    broker: Any, names: dict[str, str], stream_model: Path, adult_rows: list[dict[str, Any]],
    tools: Any,
) -> None:
    broker.clear(*names.values())
    broker.send(names["in"], tools.messages(adult_rows[:N]))
    proc = tools.start(stream_model, broker.kind, names, "--batch", "128")
    _wait_for_outputs(broker, names["out"], 1, proc, timeout=60)
    time.sleep(random.uniform(0.0, 0.3))  # a random moment after the first outputs
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)  # also closes its pipes
    before = len(set(broker.output_ids(names["out"])))
    assert before < N, "the consumer finished before it was killed: nothing was tested"

    _finish(broker, names, stream_model, tools)
    counts = Counter(broker.output_ids(names["out"]))
    missing = {f"m{i}" for i in range(N)} - set(counts)
    assert not missing, f"{len(missing)} messages without an output, e.g. {sorted(missing)[:5]}"
    duplicates = sum(c - 1 for c in counts.values())
    print(f"{broker.kind}: killed after {before} outputs; {duplicates} duplicates")
    assert duplicates <= N  # at-least-once: each message at most once more
    broker.clear(*names.values())


def test_sigterm_finishes_what_it_holds(
    broker: Any, names: dict[str, str], stream_model: Path, adult_rows: list[dict[str, Any]],
    tools: Any,
) -> None:
    broker.clear(*names.values())
    broker.send(names["in"], tools.messages(adult_rows[:N]))
    proc = tools.start(stream_model, broker.kind, names, "--batch", "128", "--json")
    _wait_for_outputs(broker, names["out"], 1, proc, timeout=60)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    first = json.loads(out)
    ids = broker.output_ids(names["out"])
    assert first["rows"] == len(ids)  # everything it took was published before it stopped

    _finish(broker, names, stream_model, tools)
    counts = Counter(broker.output_ids(names["out"]))
    assert set(counts) == {f"m{i}" for i in range(N)}
    assert max(counts.values()) == 1, "a graceful stop must not score a message twice"
    broker.clear(*names.values())
