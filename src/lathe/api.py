"""The Python API: one function per verb, thin orchestration over the packages below.

Every verb that makes something returns a result with `.save(out)`: `train` a Model,
`tune` a TuneResult, `compress` a CompressionResult, `explain` an Explanation, `compare` a
Leaderboard; given `out=`, the verb saves it there itself and refuses an existing artifact
unless `force=True`. The CLI (`lathe.cli`) is a thin layer over these functions; nothing
else in lathe imports this module.

>>> import lathe  # doctest: +SKIP
>>> model = lathe.train("examples/data/adult.csv", target="income")  # doctest: +SKIP
>>> model.evaluate("holdout.csv")["roc_auc"]  # doctest: +SKIP
>>> model.save("models/adult")  # doctest: +SKIP
>>> default_out("data/churn.csv", suffix="-tuned")
PosixPath('models/churn-tuned')
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lathe.artifact import checkpoints_dir, default_out  # noqa: F401 - the CLI asks api
from lathe.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

    from lathe.config import LatheConfig
    from lathe.model import DataLike, Metrics, Model

__all__ = [
    "Model", "Metrics", "train", "load", "evaluate", "predict", "check", "tune", "compress",
    "explain", "register", "compare", "decide",
]


def __getattr__(name: str) -> Any:
    # pandas, scikit-learn and the model layer load on first use, not when the CLI imports
    # this module: `lathe experiment analyze` on a million rows pays for what it uses only
    if name in ("Model", "Metrics"):
        from lathe import model

        return getattr(model, name)
    raise AttributeError(f"module 'lathe.api' has no attribute {name!r}")


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
) -> Model:
    """Read, infer the schema, split, fit under the preset and score the held-out test split.

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
    With `out`, the model is saved there (an existing artifact is refused before any work
    unless `force=True`), torch checkpoints go to `OUT.checkpoints/` (removed once saved),
    and `name` (default: the directory's name) is recorded in the manifest.
    """
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
    from lathe.training.run import run_training

    family, schema, manifest, seen = run_training(
        frame, source, cfg, progress=progress, started=started,
        checkpoint_dir=None if checkpoint_dir is None else str(checkpoint_dir), resume=resume)
    fitted = Model(family, schema, manifest, training_rows=seen)
    if name is not None:
        fitted.manifest["name"] = name
    if target_dir is not None:
        fitted.save(target_dir)
        # the run finished and its artifact is saved: nothing left to resume
        shutil.rmtree(checkpoints_dir(target_dir), ignore_errors=True)
    return fitted


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
) -> Metrics:
    """Metrics on labelled data. With `costs` (what each outcome is worth: `correct=..,
    wrong=..`, `tp=..,fp=..,tn=..,fn=..` or a YAML file), also `value`: the expected value
    per prediction and, for binary models, the value-maximising threshold, which
    `save_threshold` writes into the artifact directory so predictions use it."""
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
    loaded = model if isinstance(model, Model) else load(model)
    metrics = loaded.evaluate(data, report=report, encoding=encoding)
    if spec is not None:
        from lathe.business.value import evaluate_value

        metrics["value"] = evaluate_value(loaded, read_data(data, encoding), spec,
                                          dict(metrics))
        if save_threshold:
            if "threshold" not in metrics["value"]:
                raise UsageError("--save-threshold needs a binary model; this one is "
                                 f"{loaded.task}")
            loaded.manifest["decision"] = {
                "threshold": metrics["value"]["threshold"],
                "positive_class": str(loaded.classes[loaded.schema.positive_index]),
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
        write_table(scored, out)
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
    if target_dir is not None:
        check_out(target_dir, force=force)
    overrides = load_space_overrides(space) if isinstance(space, (str, os.PathLike)) else space
    result = run_tune(data, target, space_overrides=overrides, **options)
    if name is not None:
        result.model.manifest["name"] = name
    if target_dir is not None:
        result.save(target_dir)
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

    if out is not None:
        check_out(Path(out), force=force)
    return run_compress(model, method, out=out, force=force, **options)


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


# ---- experiments -------------------------------------------------------------------------


def experiment_analyze(
    source: str | os.PathLike[str],
    *,
    variant: str | None = None,
    metrics: list[str] | None = None,
    control: str | None = None,
    test: str | None = None,
    split: str | None = None,
    covariate: str | None = None,
    kind: str | None = None,
    report: str | os.PathLike[str] | None = None,
    alpha: float = 0.05,
    prediction_log: str | None = None,
    store: str | None = None,
) -> dict[str, Any]:
    """Analyse an A/B test: SRM, tests, intervals, decision. `source` is a CSV/Parquet of
    outcomes, or the name of a served experiment (read from the prediction log + feedback)."""
    from lathe.experiments.service import analyze_file

    if not Path(source).exists() and variant is None and "/" not in str(source) \
            and Path(source).suffix.lower() not in (".csv", ".parquet", ".pq", ".tsv"):
        from lathe.experiments.served import analyze_experiment

        return analyze_experiment(
            str(source), prediction_log=prediction_log, metric=(metrics or [None])[0],
            store=store, report=report, alpha=alpha,
        )
    if variant is None or control is None:
        raise UsageError(
            "analysing a file needs --variant COL and --control VALUE",
            hint="e.g. --variant group --metric converted --control control",
        )
    return analyze_file(
        source, variant=variant, metrics=list(metrics or []), control=control, test=test,
        split=split, covariate=covariate, kind=kind, report=report, alpha=alpha,
    )


def experiment_plan(
    metric_kind: str | None,
    *,
    baseline: float | None,
    mde: float | None,
    sd: float | None = None,
    power: float = 0.8,
    alpha: float = 0.05,
    n_per_arm: int | None = None,
) -> dict[str, Any]:
    """Units per arm to detect an absolute lift of `mde` (statsmodels' NormalIndPower), or
    the minimum detectable effect with `n_per_arm` units per arm."""
    from lathe.experiments.service import plan

    return plan(metric_kind, baseline=baseline, mde=mde, sd=sd, power=power, alpha=alpha,
                n_per_arm=n_per_arm)


def experiment_start(name: str, *, control: str, treatment: str, split: str = "50/50",
                     unit: str, metric: str | None = None, guardrails: list[str] | None = None,
                     shadow: bool = False, canary: str | None = None,
                     step_minutes: float | None = None, store: str | None = None
                     ) -> dict[str, Any]:
    """Record a running experiment in the registry's store (LATHE_STORE)."""
    from lathe.experiments import records

    return records.start(name, control=control, treatment=treatment, split=split, unit=unit,
                         metric=metric, guardrails=guardrails, shadow=shadow, canary=canary,
                         step_minutes=step_minutes, store=store).to_dict()


def experiment_list(store: str | None = None) -> list[dict[str, Any]]:
    """Every experiment in the store, oldest first."""
    from lathe.experiments import records

    return [e.to_dict() for e in records.list_experiments(store)]


def experiment_stop(name: str, *, promote: bool, reason: str | None = None,
                    store: str | None = None, prediction_log: str | None = None
                    ) -> dict[str, Any]:
    """Promote the treatment through the registry gate, or roll back; audited either way.
    With `prediction_log`, the experiment's analysis (its decision) goes into the audit too."""
    from lathe.errors import DataError
    from lathe.experiments import records

    analysis = None
    if prediction_log is not None:
        from lathe.experiments.served import analyze_experiment

        try:
            analysis = analyze_experiment(name, prediction_log=prediction_log, store=store)
        except DataError:
            analysis = None  # no outcomes (yet): the experiment still stops
    return records.stop(name, promote=promote, reason=reason, store=store,
                        analysis=analysis).to_dict()


# ---- monitoring (issue 21) -----------------------------------------------------------------
def monitor_drift(
    reference: str,
    current: str,
    *,
    model: str | None = None,
    config: str | os.PathLike[str] | None = None,
    target: str | None = None,
    report: str | os.PathLike[str] | None = None,
    store: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> dict[str, Any]:
    """Input drift of CURRENT against REFERENCE (a data file, `log:URL` or a model's training
    profile); see lathe.monitoring.drift_check."""
    from lathe.monitoring.config import drift_options_from_file
    from lathe.monitoring.drift_check import drift_check

    options = drift_options_from_file(config)
    return drift_check(str(reference), str(current), model=model, options=options,
                       target=target, report=report, store=store, since=since, until=until)


def monitor_performance(
    model: str,
    data: DataLike,
    *,
    window: int,
    reference: DataLike | None = None,
    detector: str = "adwin",
    report: str | os.PathLike[str] | None = None,
    store: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> dict[str, Any]:
    """Metrics per window of consecutive rows (realised where labels arrived, CBPE estimates
    everywhere, change points in the error stream); DATA may be `log:URL` (the prediction
    log with its outcomes). See lathe.monitoring.performance."""
    from lathe.model import read_data, source_name
    from lathe.monitoring.logsource import is_log_ref, model_name, read_log
    from lathe.monitoring.performance import performance_windows
    from lathe.registry.refs import load_model

    loaded = load_model(model, store=store)
    frame = (read_log(data, model=model_name(model), since=since, until=until,
                      target=loaded.schema.target)
             if is_log_ref(data) else read_data(data))
    result = performance_windows(loaded, frame, window, source=source_name(data),
                                 reference=None if reference is None else read_data(reference),
                                 detector=detector)
    result["model"] = str(model)
    if report is not None:
        from lathe.monitoring.report import write_performance_report

        write_performance_report(Path(report), result)
        result["report"] = str(report)
    return result


def monitor_run(config: str | os.PathLike[str]) -> dict[str, Any]:
    """One scheduled monitoring run from monitor.yaml (checks, rules, events, gauges,
    webhook); `exit_code` is 3 when a rule is breached. See lathe.monitoring.runner."""
    from lathe.monitoring.runner import run_monitor

    return run_monitor(config)


def retrain(name: str, data: str | os.PathLike[str], *, alias: str | None = None,
            out: str | os.PathLike[str] | None = None, store: str | None = None,
            note: str | None = None) -> dict[str, Any]:
    """A challenger with the champion's config, compared on the last 20 % of DATA, registered
    with its parent, promoted only through the gate (or to `alias`); see
    lathe.monitoring.retrain."""
    from lathe.monitoring.retrain import retrain as run_retrain

    return run_retrain(name, data, alias=alias, out=out, store=store, note=note)


# ---- business ------------------------------------------------------------------------------
def decide(
    models: list[str],
    data: DataLike,
    *,
    traffic: str | None = None,
    price: str | None = None,
    value: Any = None,
    region: str | None = None,
    report: str | os.PathLike[str] | None = None,
    target_p95_ms: float = 100.0,
    tolerance: float = 0.01,
    rounds: int = 5,
    encoding: str | None = None,
) -> dict[str, Any]:
    """Measure, price and rank candidate models on the same labelled rows; which to run and
    why (see `lathe.business.decide`). Timing goes through the server's `Predictor`."""
    from lathe.business.decide import decide_candidates
    from lathe.model import read_data, source_name
    from lathe.registry.refs import load_model
    from lathe.serving.predictor import Predictor

    def server_path(model: Model) -> Callable[[list[dict[str, Any]]], Any]:
        predictor = Predictor("decide", "0", model)
        return lambda rows: predictor.predict_raw(predictor.prepare(rows))

    if report is not None and Path(report).is_dir():
        raise UsageError(f"--report {report} is a directory", hint="pass a file name")
    result = decide_candidates(
        [str(m) for m in models], read_data(data, encoding), load=load_model,
        make_scorer=server_path, source=source_name(data), traffic=traffic, price=price,
        value=value, region=region, target_p95_ms=target_p95_ms, tolerance=tolerance,
        rounds=rounds)
    if report is not None:
        from lathe.business.report import write_decision_report

        write_decision_report(report, result)
    return result
