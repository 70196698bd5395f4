"""Every compressor, through one suite: the rules in lathe/compression/_base.py.

A compressor returns a new, unsaved model of its own (family, schema, manifest copy), leaves
the parent as it was, may read `job.fit_frame` but never `job.eval_frame`, records what it
did in `job.settings`, and refuses a family it does not apply to with a UsageError whose hint
names another method. Parents are small real fits (a gbm, an mlp, a linear model on Adult).
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lathe.compression._base import COMPRESSORS_MODULES, CompressionJob, get_compressor
from lathe.data.infer import encode_labels, infer_schema
from lathe.errors import UsageError
from lathe.model import Model
from lathe.models import FitData, get_family

# (method, parent family, job options): each compressor on a family it applies to
CASES = [
    ("int8", "mlp", {"scheme": "dynamic"}),
    ("prune", "gbm", {}),
    ("prune", "mlp", {"kind": "structured", "sparsity": 0.5, "recover": False}),
    ("distill", "gbm", {"student": "linear"}),
]
# ... and on one it does not
REFUSED = [("int8", "gbm"), ("prune", "linear")]


class _Untouchable:
    """Stands in for `job.eval_frame`: reading anything of it fails the test."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"a compressor read the evaluation rows ({name})")

    def __len__(self) -> int:
        raise AssertionError("a compressor read the evaluation rows (len)")


@pytest.fixture(scope="module")
def rows(adult: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(parent training rows, the compressor's fit rows, rows to compare predictions on)."""
    return adult.iloc[:1200], adult.iloc[1200:1800].reset_index(drop=True), adult.iloc[1800:1900]


PARENT_PARAMS = {"gbm": {"n_estimators": 60}, "mlp": {"hidden_sizes": [32, 16], "max_epochs": 4},
                 "linear": {}}


@pytest.fixture(scope="module")
def parents(rows) -> dict[str, Model]:  # noqa: ANN001
    train, _, _ = rows
    schema = infer_schema(train, "income")
    X, _ = schema.conform(train)
    y = encode_labels(train["income"], schema)
    out = {}
    for name, params in PARENT_PARAMS.items():
        family = get_family(name)(**params).fit(FitData(schema, X, y, seed=0, threads=1))
        out[name] = Model(family, schema, {"lineage": {"dataset": "adult sample"},
                                           "metrics": {"test": {"roc_auc": 0.9}}})
    return out


def test_the_suite_covers_every_compressor() -> None:
    assert {method for method, _, _ in CASES} == set(COMPRESSORS_MODULES)


@pytest.mark.parametrize(("method", "parent_name", "options"), CASES,
                         ids=[f"{m}-{p}" for m, p, _ in CASES])
def test_compressor_contract(method: str, parent_name: str, options: dict, parents, rows,  # noqa: ANN001
                             tmp_path: Path) -> None:
    parent = parents[parent_name]
    _, fit_rows, probe = rows
    before_manifest = copy.deepcopy(parent.manifest)
    before = parent.predict_raw(probe)
    job = CompressionJob(fit_rows, _Untouchable(), seed=0, **options)  # type: ignore[arg-type]
    compressor = get_compressor(method)
    assert compressor.method == method
    child = compressor.compress(parent, job)
    # a new, unsaved model of its own; the parent is as it was
    assert isinstance(child, Model) and child.path is None
    assert child.family is not parent.family and child.manifest is not parent.manifest
    np.testing.assert_allclose(parent.predict_raw(probe), before)
    assert parent.manifest == before_manifest
    # the child's manifest describes the child, not the parent's numbers
    assert child.manifest["family"] == child.family.name
    assert child.manifest["metrics"] == {}
    assert child.manifest["lineage"] == before_manifest["lineage"]
    assert job.settings, "a compressor records the settings it used"
    # it predicts like a model of the same task, and saved and loaded it predicts the same
    raw = child.predict_raw(probe)
    assert raw.shape == before.shape
    np.testing.assert_allclose(raw.sum(axis=1), 1.0, atol=1e-5)
    assert (raw.argmax(1) == before.argmax(1)).mean() > 0.8  # close to its parent
    loaded = Model.load(child.save(tmp_path / "child"))
    assert loaded.family.name == child.family.name
    np.testing.assert_allclose(loaded.predict_raw(probe), raw, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("method", "parent_name"), REFUSED)
def test_a_compressor_refuses_a_family_it_does_not_apply_to(method: str, parent_name: str,
                                                            parents, rows) -> None:  # noqa: ANN001
    _, fit_rows, _ = rows
    with pytest.raises(UsageError) as err:
        get_compressor(method).compress(parents[parent_name],
                                        CompressionJob(fit_rows, _Untouchable()))  # type: ignore[arg-type]
    assert "--method" in (err.value.hint or "")
    assert parent_name in str(err.value)
