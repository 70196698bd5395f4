from __future__ import annotations

from pathlib import Path

import pytest

from lathe.config import load_config
from lathe.errors import ConfigError, NotFound


def test_file_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "lathe.yaml"
    path.write_text(
        "version: 1\ndata: {target: income}\ntrain: {preset: best, time_budget_s: 30}\n"
    )
    cfg = load_config(path, train__preset="fast", train__model=None)
    assert cfg.data.target == "income" and cfg.train.preset == "fast"
    assert cfg.train.time_budget_s == 30 and cfg.train.model == "auto"


def test_example_config_is_valid() -> None:
    cfg = load_config(Path(__file__).resolve().parents[2] / "examples" / "lathe.yaml")
    assert cfg.data.target == "income"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("train: {preset: slow}", "train.preset"),
        ("trian: {}", "trian"),
        ("train: {model: gmb}", "train.model"),
        ("split: {test_size: 0.9}", "split.test_size"),
    ],
)
def test_invalid_fields_are_named(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=f"field '{field}'") as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_bad_yaml_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)
    with pytest.raises(NotFound):
        load_config(tmp_path / "none.yaml")
