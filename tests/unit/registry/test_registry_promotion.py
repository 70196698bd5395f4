"""The promotion gate scores versions with the callable it is handed (the registry imports
no API): with `on=DATA`, `evaluate(artifact_dir, DATA)` decides, not the recorded metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lathe.errors import GateFailed


def test_the_gate_scores_both_versions_with_the_given_callable(registry, make_artifact) -> None:
    first = registry.register(make_artifact(auc=0.9), name="m")
    second = registry.register(make_artifact(auc=0.6), name="m")  # worse on record ...
    registry.promote("m", first.version)
    fresh = {first.artifact_sha256: 0.70, second.artifact_sha256: 0.75}  # ... better on DATA
    seen: list[tuple[Path, Any]] = []

    def evaluate(artifact: Path, data: Any) -> dict[str, float]:
        seen.append((artifact, data))
        record = next(r for r in registry.list("m") if artifact.name.endswith(r.artifact_sha256[:12]))
        return {"roc_auc": fresh[record.artifact_sha256]}

    change = registry.promote("m", second.version, on="holdout.csv", evaluate=evaluate)
    assert change.changed and change.gate["passed"]
    assert change.gate["candidate"] == 0.75 and change.gate["champion"] == 0.70
    assert [data for _, data in seen] == ["holdout.csv", "holdout.csv"]
    assert all((artifact / "manifest.json").exists() for artifact, _ in seen)


def test_a_callable_without_the_gate_metric_is_refused_by_name(registry, make_artifact) -> None:
    registry.register(make_artifact(), name="m")
    registry.register(make_artifact(), name="m")
    registry.promote("m", 1)
    with pytest.raises(GateFailed, match="gave no roc_auc"):
        registry.promote("m", 2, on="holdout.csv", evaluate=lambda path, data: {"accuracy": 1.0})


def test_the_gate_materializes_through_the_registry_not_the_promotion_base() -> None:
    # RegistryPromotion declares `materialize` (its on=DATA gate needs it); ModelRegistry,
    # the class open_registry returns, provides it.
    from lathe.registry.promotion import RegistryPromotion
    from lathe.registry.registry import ModelRegistry

    assert ModelRegistry.materialize is not RegistryPromotion.materialize
