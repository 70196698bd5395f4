"""Per-row language detection and per-language metrics on a mixed English/Chinese set
(SST-2 sentences and ChnSentiCorp reviews from ../shared/data)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lathe.api as api
from lathe.cli import main
from lathe.training.presets import choose_family
from lathe.validation.language import detect_languages

SHARED = Path(__file__).resolve().parents[4] / "shared" / "data"


def _shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not present (these tests read ../shared/data)")
    return path


@pytest.fixture(scope="module")
def mixed() -> pd.DataFrame:
    en = pd.read_csv(_shared("sst2", "train.csv")).sample(1500, random_state=0)
    zh = pd.read_csv(_shared("chnsenticorp_htl", "train.csv")).sample(1500, random_state=0)
    frame = pd.concat([en.rename(columns={"sentence": "text"})[["text", "label"]],
                       zh.rename(columns={"review": "text"})[["text", "label"]]])
    frame["lang"] = ["en"] * len(en) + ["zh"] * len(zh)
    return frame.sample(frac=1.0, random_state=1).reset_index(drop=True)


def test_detection_is_right_on_short_english_fragments_and_chinese(mixed) -> None:
    pytest.importorskip("py3langid")
    found = detect_languages(mixed["text"])
    assert np.mean(found == mixed["lang"].to_numpy()) >= 0.99


def test_scripts_decide_without_statistics() -> None:
    assert detect_languages(["酒店不错", "ホテルはよかった", "호텔이 좋았다", "", "123"]).tolist() \
        == ["zh", "ja", "ko", "und", "und"]


def test_evaluate_reports_each_language(mixed, tmp_path, capsys) -> None:
    train, held = mixed.iloc[:1200].drop(columns="lang"), mixed.iloc[2000:].drop(columns="lang")
    model = api.train(train, target="label", model="linear", threads=1)
    assert model.schema.column("text").language == "mixed"
    # auto: the encoder blend (its TF-IDF member routed by language) where one is installed
    assert choose_family(model.schema) in ("text", "linear")
    model.save(tmp_path / "model")
    held.to_csv(tmp_path / "held.csv", index=False)
    code = main(["evaluate", str(tmp_path / "model"), str(tmp_path / "held.csv"), "--json"])
    metrics = json.loads(capsys.readouterr().out)
    assert code == 0
    by = metrics["by_language"]
    assert {"en", "zh"} <= set(by)
    assert sum(v["n"] for v in by.values()) == len(held)
    assert 0.5 < by["zh"]["accuracy"] <= 1 and "f1" in by["en"]
