"""The import contracts in .importlinter hold: imports only point down the layers, and no
package has an import cycle (function-level imports included). `make test` runs
`lint-imports` too; this keeps the check in a plain `pytest` run."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if lint is None:
        pytest.skip("lint-imports is not installed (pip install -e '.[dev]')")
    done = subprocess.run([lint, "--no-cache", str(ROOT / ".importlinter")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    # every contract the file declares ran and held (a contract added there counts here too)
    declared = (ROOT / ".importlinter").read_text().count("[importlinter:contract:")
    assert declared >= 2 and f"Contracts: {declared} kept, 0 broken." in done.stdout
