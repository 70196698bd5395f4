"""The lifecycle verbs: train, load, evaluate, predict, check, tune, compress, explain,
register, compare (re-exported by `lathe.api`)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lathe.artifact import checkpoints_dir
from lathe.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

    from lathe.config import LatheConfig
    from lathe.model import DataLike, Metrics, Model

Progress = Callable[[str, dict[str, Any]], None]


def _resolve_config(
    config: str | os.PathLike[str] | LatheConfig | None, **overrides: Any
) -> LatheConfig:
    from lathe.config import LatheConfig, load_config

    if isinstance(config, LatheConfig):
        return load_config(None, base=config.model_dump(), **overrides)
    return load_config(config, **overrides)


def train(
    data: DataLike,
    target: str | None = None,
    *,
    model: str | None = None,
    preset: str | None = None,
    task: str | None = None,
    config: str | os.PathLike[str] | LatheConfig | None = None,
    time_budget_s: float | None = None,
    seed: int | None = None,
    text_columns: list[str] | None = None,
    categorical_columns: list[str] | None = None,
    drop_columns: list[str] | None = None,
    params: dict[str, Any] | None = None,
    threads: int | None = None,
    encoding: str | None = None,
    progress: Progress | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    catch_all: str | None = None,
    abstain_rate: float | None = None,
    refit: bool | None = None,
    positive_class: str | None = None,
    out: str | os.PathLike[str] | None = None,
    name: str | None = None,
    force: bool = False,
    sign: str | os.PathLike[str] | None = None,
    dp_epsilon: float | None = None,
    dp_delta: float | None = None,
    refuse_pii: bool | None = None,
    engine: str | None = None,
) -> Model:
    """Read, infer the schema, split, fit under the preset and score the held-out test split.

    `engine` ("dask://local?workers=N" or "dask://HOST:PORT") fits gbm with LightGBM's Dask
    estimators on that cluster (see lathe.models._engine); the artifact is the same kind.

    Arguments override the config file; the resolved config is stored in the manifest.
    Torch families (mlp, text) write a checkpoint per epoch to `checkpoint_dir`; with
    `resume=True` a killed run continues from it and ends with the same model.
    With a catch-all label (`catch_all`, e.g. "oos"; found by name when "auto"), rows that no
    other class explains are routed to it; `abstain_rate` is the share of in-scope validation
    rows that may be (see `lathe.models.catch_all`).
    With `refit` (the default) the model is refitted on every labelled row once the test
    split has been scored: the saved model has learned from all of them, and the manifest's
    test metrics (measured before) are a slightly pessimistic estimate of it.
    For a binary label, `positive_class` is the class plain precision/recall/f1 describe
    (default: the second of the sorted classes).
    With `dp_epsilon` (and `dp_delta`) the mlp or linear family trains with differential
    privacy and the manifest's `privacy` says what was spent (see `lathe.training.private`);
    with `refuse_pii` a feature column holding PII is refused (mask it first).
    With `out`, the model is saved there (an existing artifact is refused before any work
    unless `force=True`), torch checkpoints go to `OUT.checkpoints/` (removed once saved),
    and `name` (default: the directory's name) is recorded in the manifest.
    `sign` (default LATHE_SIGNING_KEY) is an Ed25519 key file: the saved manifest is signed
    (see `lathe.security.signing`); a bad key is refused before any training.
    """
    signing_key = _signing_key(sign)
    cfg = _resolve_config(
        config,
        data__target=target,
        data__task=task,
        train__model=model,
        train__preset=preset,
        train__time_budget_s=time_budget_s,
        train__seed=seed,
        train__params=params,
        train__threads=threads,
        data__text_columns=text_columns,
        data__categorical_columns=categorical_columns,
        data__drop_columns=drop_columns,
        data__encoding=encoding,
        data__catch_all=catch_all,
        train__abstain_rate=abstain_rate,
        train__refit=refit,
        data__positive_class=positive_class,
        privacy__epsilon=dp_epsilon,
        privacy__delta=dp_delta,
        data__refuse_pii=refuse_pii,
    )
    if cfg.data.target is None:
        raise UsageError(
            "no target column given", hint="pass target=COLUMN (or data.target in lathe.yaml)"
        )
    import pandas as pd

    from lathe.artifact import check_out
    from lathe.data.load import read_table
    from lathe.model import Model, source_name

    target_dir = None if out is None else Path(out)
    if target_dir is not None:
        check_out(target_dir, force=force)  # refuse before spending the training time
        if checkpoint_dir is None:
            checkpoint_dir = checkpoints_dir(target_dir)
    source = source_name(data)
    started = time.monotonic()
    frame = (
        read_table(data, encoding=cfg.data.encoding)
        if not isinstance(data, pd.DataFrame)
        else data.copy()
    )
    from lathe.models._engine import use_engine
    from lathe.training.run import run_training

    with use_engine(engine):
        family, schema, manifest, seen = run_training(
            frame, source, cfg, progress=progress, started=started,
            checkpoint_dir=None if checkpoint_dir is None else str(checkpoint_dir),
            resume=resume)
    fitted = Model(family, schema, manifest, training_rows=seen)
    if name is not None:
        fitted.manifest["name"] = name
    if target_dir is not None:
        fitted.save(target_dir)
        # the run finished and its artifact is saved: nothing left to resume
        shutil.rmtree(checkpoints_dir(target_dir), ignore_errors=True)
        _sign(fitted, signing_key)
    return fitted


def _signing_key(sign: str | os.PathLike[str] | None) -> str | None:
    """The signing key file to use (`sign`, else LATHE_SIGNING_KEY), checked now: a wrong
    path or a public key fails before minutes of work, not after."""
    from lathe.security.keys import load_private_key
    from lathe.security.signing import SIGNING_ENV, signing_key_from_env

    key = os.fspath(sign) if sign is not None else signing_key_from_env()
    if key is not None:
        load_private_key(key, None if sign is not None else SIGNING_ENV)
    return key


def _sign(model: Any, key: str | None) -> None:
    """Sign the saved artifact of `model` with `key` (nothing when None)."""
    if key is None or model.path is None:
        return
    from lathe.security.signing import sign_artifact

    model.manifest["signature"] = sign_artifact(model.path, key)


def load(path: str | os.PathLike[str], *, check: bool = True) -> Model:
    """Load an artifact directory, or a registry reference NAME, NAME@alias, NAME:VERSION
    (verifying every file's hash unless check=False)."""
    from lathe.registry.refs import load_model

    return load_model(path, check=check)


def evaluate(
    model: str | os.PathLike[str] | Model,
    data: DataLike,
    *,
    report: str | os.PathLike[str] | None = None,
    encoding: str | None = None,
    costs: Any = None,
    save_threshold: bool = False,
    by: str | list[str] | None = None,
) -> Metrics:
    """Metrics on labelled data. With `costs` (what each outcome is worth: `correct=..,
    wrong=..`, `tp=..,fp=..,tn=..,fn=..` or a YAML file), also `value`: the expected value
    per prediction and, for binary models, the value-maximising threshold, which
    `save_threshold` writes into the artifact directory so predictions use it. `by` (columns,
    or "a,b") adds `slices` per value with intervals and support and `worst_slices`; a text
    model whose rows are in several languages adds `by_language`."""
    from lathe.model import Model, read_data, source_name

    if save_threshold and costs is None:
        raise UsageError("--save-threshold needs --costs", hint="e.g. --costs costs.yaml")
    spec = None
    if costs is not None:
        from lathe.business.value import parse_value_spec

        spec = parse_value_spec(costs, "--costs")  # checked before any scoring
    if save_threshold and not (not isinstance(model, Model) and Path(model).is_dir()):
        raise UsageError("--save-threshold writes into an artifact directory; "
                         f"{model} is not one (registry versions are immutable)",
                         hint="evaluate the artifact directory, then register it")
    from lathe.validation.evaluate import evaluation_sections, split_columns

    loaded = model if isinstance(model, Model) else load(model)
    sections = evaluation_sections(loaded, split_columns(by), source_name(data))
    metrics = loaded.evaluate(data, report=report, encoding=encoding, sections=sections)
    if spec is not None:
        from lathe.business.value import evaluate_value

        metrics["value"] = evaluate_value(loaded, read_data(data, encoding), spec,
                                          dict(metrics))
        if save_threshold:
            if "threshold" not in metrics["value"]:
                raise UsageError("--save-threshold needs a binary model; this one is "
                                 f"{loaded.task}")
            classes, pos = loaded.classes, loaded.schema.positive_index
            if classes is None or pos is None or isinstance(model, Model):
                raise UsageError("--save-threshold needs a binary artifact directory; "
                                 f"{model} is not one")
            loaded.manifest["decision"] = {
                "threshold": metrics["value"]["threshold"],
                "positive_class": str(classes[pos]),
                "expected_value": metrics["value"]["expected_value_at_threshold"],
                "costs": spec, "source": source_name(data)}
            loaded.save(Path(model))
            metrics["value"]["saved_to"] = str(model)
    return metrics


def predict(
    model: str | os.PathLike[str] | Model,
    data: DataLike | dict[str, Any] | list[dict[str, Any]],
    *,
    proba: bool = False,
    strict: bool = False,
    out: str | os.PathLike[str] | None = None,
    encoding: str | None = None,
) -> pd.DataFrame:
    """The input rows with `prediction` (and `proba_<class>` with `proba`) appended.

    `strict` refuses extra columns and unseen categories (otherwise warnings, kept in
    `result.attrs["warnings"]`); `out` also writes the rows there (CSV, Parquet or JSONL by
    suffix, atomically).
    """
    from lathe.data.load import write_table
    from lathe.model import Model

    loaded = model if isinstance(model, Model) else load(model)
    scored, report = loaded.score_frame(data, proba=proba, strict=strict, encoding=encoding)
    scored.attrs["warnings"] = list(report.warnings())
    if out is not None:
        write_table(scored, Path(out))
    return scored


def check(
    data: DataLike,
    target: str | None = None,
    *,
    test: DataLike | None = None,
    encoding: str | None = None,
) -> Any:
    """Data-quality report (see lathe.data.quality)."""
    from lathe.data.quality import check_table
    from lathe.model import read_data, source_name

    frame = read_data(data, encoding)
    test_frame = read_data(test, encoding) if test is not None else None
    return check_table(
        frame,
        target,
        test_frame=test_frame,
        source=source_name(data),
        test_source=source_name(test) if test is not None else None,
    )


def tune(
    data: DataLike,
    target: str | None = None,
    *,
    space: str | os.PathLike[str] | dict[str, Any] | None = None,
    out: str | os.PathLike[str] | None = None,
    name: str | None = None,
    force: bool = False,
    **options: Any,
) -> Any:
    """Optuna search; returns a TuneResult whose `.save(out)` writes the best model.

    `options` are those of `lathe.tuning.tune` (model, trials, timeout_s, sampler,
    objectives, pruner, cv_folds, storage, study_name, workers, seed, ...). `trials` is the
    study's total: a resumed study runs only the trials it lacks. `space` narrows the search
    space (a dict or a YAML file).
    """
    from lathe.artifact import check_out
    from lathe.tuning import load_space_overrides
    from lathe.tuning import tune as run_tune

    if target is None:
        raise UsageError("no target column given", hint="pass target=COLUMN")
    target_dir = None if out is None else Path(out)
    signing_key = _signing_key(None)  # LATHE_SIGNING_KEY signs the tuned model
    if target_dir is not None:
        check_out(target_dir, force=force)
    overrides = load_space_overrides(space) if isinstance(space, (str, os.PathLike)) else space
    result = run_tune(data, target, space_overrides=overrides, **options)
    if name is not None:
        result.model.manifest["name"] = name
    if target_dir is not None:
        result.save(target_dir)
        _sign(result.model, signing_key)
    return result


def compress(
    model: str | os.PathLike[str] | Model,
    method: str,
    *,
    out: str | os.PathLike[str] | None = None,
    force: bool = False,
    **options: Any,
) -> Any:
    """A smaller child of `model` by `method` (int8, prune, distill), measured against it on
    the same held-out rows; returns a CompressionResult (a dict: the report) whose
    `.save(out)` writes the child. `options`: data, eval_data, sparsity, student, scheme,
    kind, recover (see `lathe.compression.pipeline.compress`)."""
    from lathe.artifact import check_out
    from lathe.compression import compress as run_compress

    signing_key = _signing_key(None)  # LATHE_SIGNING_KEY signs the child
    if out is not None:
        check_out(Path(out), force=force)
    result = run_compress(model, method, out=out, force=force, **options)
    if out is not None and signing_key is not None:
        from lathe.security.signing import sign_artifact

        result.model.manifest["signature"] = sign_artifact(out, signing_key)
    return result


def explain(
    model: str | os.PathLike[str] | Model,
    data: DataLike,
    *,
    rows: int = 5,
    report: str | os.PathLike[str] | None = None,
    encoding: str | None = None,
) -> Any:
    """Global importance (permutation + mean |contribution|) and per-row contributions of
    the first `rows` rows; returns an Explanation whose `.save(path)` writes the HTML report
    (written to `report` directly when given)."""
    from lathe.explain.result import explain_model
    from lathe.model import Model, read_data

    loaded = model if isinstance(model, Model) else load(model)
    result = explain_model(loaded, read_data(data, encoding), rows=rows)
    if report is not None:
        result.save(report)
    return result


def register(
    model: str | os.PathLike[str],
    name: str,
    *,
    note: str | None = None,
    store: str | None = None,
) -> Any:
    """Store the artifact at `model` as the next version of `name` (ModelVersion; the same
    artifact twice returns the existing version)."""
    from lathe.registry.registry import open_registry

    with open_registry(store) as registry:
        return registry.register(model, name=name, note=note)


def compare(
    data: DataLike,
    target: str | None = None,
    *,
    models: list[str] | str | None = None,
    preset: str | None = "fast",
    config: str | os.PathLike[str] | LatheConfig | None = None,
    seed: int | None = None,
    time_budget_s: float | None = None,
    encoding: str | None = None,
    progress: Progress | None = None,
    out: str | os.PathLike[str] | None = None,
    name: str | None = None,
    force: bool = False,
) -> Any:
    """Train each family in `models` (default gbm, linear, mlp) on the same split and rank
    them by the task's primary metric: a Leaderboard (every test metric, fit seconds,
    predict rows/s, artifact size) whose `.save(out)` writes the winner."""
    from lathe.artifact import check_out
    from lathe.model import read_data, source_name
    from lathe.tuning.compare import compare_families

    cfg = _resolve_config(config, data__target=target, train__preset=preset,
                          train__seed=seed, train__time_budget_s=time_budget_s,
                          data__encoding=encoding)
    if cfg.data.target is None:
        raise UsageError("no target column given",
                         hint="pass target=COLUMN (or data.target in lathe.yaml)")
    target_dir = None if out is None else Path(out)
    if target_dir is not None:
        check_out(target_dir, force=force)
    frame = read_data(data, cfg.data.encoding)
    board = compare_families(frame, source_name(data), cfg, models, progress=progress)
    if target_dir is not None:
        board.save(target_dir, name=name, force=True)
    return board
