"""A stream consumer needs no training code: after scoring a gbm model's messages from
RabbitMQ, the process has not imported lathe.training, lathe.tuning, lathe.compression,
optuna or torch (its own sys.modules says so)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

FORBIDDEN = ("lathe.training", "lathe.tuning", "lathe.compression", "optuna", "torch")

PROGRAM = """
import json, sys
from lathe.streams.consumer import StreamSettings, run_stream
summary = run_stream(StreamSettings(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4],
                                    idle_exit=1.5))
print(json.dumps({"summary": summary, "modules": sorted(sys.modules)}))
"""


def test_the_consumer_imports_no_training_code(
    rabbit: Any, names: dict[str, str], stream_model: Path, adult_rows: list[dict[str, Any]],
    tools: Any,
) -> None:
    rabbit.clear(*names.values())
    rabbit.send(names["in"], tools.messages(adult_rows[:50]))
    done = subprocess.run([sys.executable, "-c", PROGRAM, str(stream_model), rabbit.url,
                           names["in"], names["out"]], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["summary"]["messages"] == 50
    loaded = [m for m in result["modules"]
              if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert loaded == []
    assert "lathe.models.gbm" in result["modules"]  # it did load the model it scored with
    rabbit.clear(*names.values(), f"{names['in']}.dlq")
