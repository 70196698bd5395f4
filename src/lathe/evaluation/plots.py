"""The report's plots: matplotlib figures embedded in the page as base64 PNG.

Plots use `matplotlib.figure.Figure` with the Agg canvas directly — never pyplot — so
rendering keeps no global state and is safe in threads. Each function returns an HTML
fragment; labels are shortened to what the font can draw, and text is escaped.

>>> class_labels(["no", "yes"], 2)
['no', 'yes']
>>> class_labels(None, 3)
['0', '1', '2']
"""

from __future__ import annotations

import base64
import functools
import html
import io
from typing import TYPE_CHECKING, Any

import numpy as np

from lathe.evaluation import curves

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["classification_plots", "regression_plots", "training_plots", "class_labels"]

MAX_CURVE_CLASSES = 10  # one-vs-rest curves beyond this many lines are unreadable
MAX_ANNOTATED_CLASSES = 20  # confusion-matrix cell numbers stop being legible beyond this
MAX_LABELLED_CLASSES = 100  # tick labels too
MAX_SCATTER_POINTS = 5000  # keeps the PNG small and the render fast; the histogram uses all rows
TOP_FEATURES = 20


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _new_figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _embed(fig: Figure, alt: str, caption: str = "") -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)  # Agg explicitly, without switching any global backend
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    text = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="data:image/png;base64,{data}" alt="{_e(alt)}">{text}</figure>'


@functools.lru_cache(maxsize=1)
def _font_codepoints() -> frozenset[int]:
    from matplotlib import font_manager

    font = font_manager.get_font(font_manager.findfont(font_manager.FontProperties()))
    return frozenset(font.get_charmap())


def _plot_label(text: Any, limit: int = 28) -> str:
    """A label matplotlib draws as written: short, no missing glyphs, no mathtext."""
    label = str(text)
    if len(label) > limit:
        label = label[: limit - 1] + "…"
    drawable = _font_codepoints()
    # characters the font lacks would warn and draw as boxes; the HTML tables keep them
    label = "".join(ch if ord(ch) in drawable else "?" for ch in label)
    return label.replace("$", r"\$")  # a pair of $ would switch matplotlib into maths mode


def class_labels(classes: list[Any] | None, k: int) -> list[str]:
    names = [str(c) for c in classes or []]
    return names if len(names) == k else [str(i) for i in range(k)]


def _note(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>'


def classification_plots(y: np.ndarray, proba: np.ndarray, labels: list[str],
                          pos: int = 1) -> str:
    """Curves, confusion matrices and reliability; `pos` is a binary label's positive class."""
    k = proba.shape[1]
    if k == 2:
        chosen, positive = [pos], labels[pos]
        scope = f"positive class {positive!r}"
    else:
        chosen = [c for c in curves.top_classes(y, MAX_CURVE_CLASSES) if (y != c).any()]
        scope = (f"one-vs-rest for the {len(chosen)} most frequent of {k} classes"
                 if len(chosen) < k else "one-vs-rest for each class")
    pairs = [(labels[c], y == c, proba[:, c]) for c in chosen]
    pairs = [(label, hit, score) for label, hit, score in pairs if hit.any() and not hit.all()]
    parts = []
    if pairs:
        rocs = [(label, curves.roc_curve_points(hit, score)) for label, hit, score in pairs]
        prs = [(label, curves.pr_curve_points(hit, score)) for label, hit, score in pairs]
        parts.append('<div class="grid">' + _roc_plot(rocs, scope) + _pr_plot(prs, scope, k == 2)
                     + "</div>")
    else:
        parts.append(_note("ROC and precision-recall curves need rows of more than one class; "
                           "this data holds only one."))
    predicted = proba.argmax(axis=1)
    counts = curves.confusion_counts(y, predicted, k)
    wide = k > 8  # big matrices get a row each; small ones sit side by side
    parts.append(f'<div class="{"stack" if wide else "grid"}">'
                 + _confusion_plot(counts, labels, normalised=False)
                 + _confusion_plot(curves.normalise_rows(counts), labels, normalised=True)
                 + "</div>")
    if k == 2:
        reliability = curves.reliability_points(proba[:, pos], y == pos)
        axis = f"predicted probability of {labels[pos]!r}", f"observed share of {labels[pos]!r}"
    else:
        reliability = curves.reliability_points(proba.max(axis=1), predicted == y)
        axis = "confidence of the predicted class", "accuracy"
    parts.append(_reliability_plot(reliability, proba[:, pos] if k == 2 else proba.max(axis=1),
                                   axis))
    return "\n".join(parts)


def _roc_plot(rocs: list[tuple[str, curves.RocCurve]], scope: str) -> str:
    fig = _new_figure(5.5, 4.8)
    ax = fig.add_subplot()
    for label, roc in rocs:
        ax.plot(roc.fpr, roc.tpr, lw=1.6, label=f"{_plot_label(label)} (AUC {roc.auc:.3f})")
    ax.plot([0, 1], [0, 1], ls="--", lw=1, color="grey", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.01),
           title="ROC curve")
    ax.legend(loc="lower right", fontsize=7 if len(rocs) > 3 else 9)
    return _embed(fig, "ROC curve", f"ROC curve, {scope}.")


def _pr_plot(prs: list[tuple[str, curves.PrCurve]], scope: str, baseline: bool) -> str:
    fig = _new_figure(5.5, 4.8)
    ax = fig.add_subplot()
    for label, pr in prs:
        ax.step(pr.recall, pr.precision, where="post", lw=1.6,
                label=f"{_plot_label(label)} (AP {pr.average_precision:.3f})")
    if baseline:
        ax.axhline(prs[0][1].prevalence, ls="--", lw=1, color="grey", label="chance")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.01),
           title="Precision-recall curve")
    ax.legend(loc="lower left", fontsize=7 if len(prs) > 3 else 9)
    return _embed(fig, "Precision-recall curve", f"Precision-recall curve, {scope}.")


def _confusion_plot(matrix: np.ndarray, labels: list[str], normalised: bool) -> str:
    from matplotlib.figure import Figure

    k = matrix.shape[0]
    side = float(np.clip(2.5 + 0.17 * k, 4.0, 15.0))  # inches of matrix: ~0.17 in per class
    names = [_plot_label(name, 24) for name in labels] if k <= MAX_LABELLED_CLASSES else []
    # about two thirds of a row's height, in points
    size = float(np.clip(side / k * 72 * 0.65, 4.0, 9.0))
    # Margins are computed, not left to constrained layout: laying out 2 x 77 tick labels
    # twice (measure, then draw) was most of the report's run time.
    rotation = 90 if k > 6 else 30
    label_inches = max((len(n) for n in names), default=0) * size * 0.62 / 72
    left = label_inches + 0.55
    bottom = label_inches * (1.0 if rotation == 90 else 0.5) + 0.65
    width, height = left + side + 1.2, bottom + side + 0.5
    fig = Figure(figsize=(width, height), dpi=100)
    ax = fig.add_axes((left / width, bottom / height, side / width, side / height))
    top = 1.0 if normalised else max(float(matrix.max()), 1.0)
    image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=top, interpolation="nearest")
    colorbar_axes = fig.add_axes(((left + side + 0.2) / width, bottom / height,
                                  0.2 / width, side / height))
    fig.colorbar(image, cax=colorbar_axes)
    if names:
        ax.set_xticks(range(k), names, fontsize=size, rotation=rotation,
                      ha="center" if rotation == 90 else "right")
        ax.set_yticks(range(k), names, fontsize=size)
    else:
        ax.set(xticks=[], yticks=[])
    if k <= MAX_ANNOTATED_CLASSES:
        for (row, col), value in np.ndenumerate(matrix):
            text = f"{value:.2f}" if normalised else f"{int(value)}"
            ax.text(col, row, text, ha="center", va="center", fontsize=8 if k <= 10 else 6,
                    color="white" if value > top / 2 else "black")
    ax.set(xlabel="predicted", ylabel="actual")
    kind = "row-normalised (recall per class)" if normalised else "counts"
    ax.set_title(f"Confusion matrix, {kind}")
    caption = f"Confusion matrix, {kind}; rows are actual classes, columns predicted."
    if k > MAX_ANNOTATED_CLASSES:
        caption += f" {k} classes: cell values are shown by colour only."
    return _embed(fig, f"Confusion matrix ({kind})", caption)


def _reliability_plot(rel: curves.Reliability, scores: np.ndarray, axis: tuple[str, str]) -> str:
    fig = _new_figure(5.5, 5.5)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    top.plot([0, 1], [0, 1], ls="--", lw=1, color="grey", label="perfectly calibrated")
    top.plot(rel.confidence, rel.observed, marker="o", lw=1.6, label="model")
    top.set(ylabel=axis[1], xlim=(0, 1), ylim=(0, 1.01),
            title=f"Reliability diagram (ECE {rel.ece:.3f})")
    top.legend(loc="upper left", fontsize=8)
    bottom.hist(scores, bins=rel.bin_edges, color="tab:blue", alpha=0.7)
    bottom.set(xlabel=_plot_label(axis[0], 60), ylabel="rows")
    return _embed(fig, "Reliability diagram",
                  f"Calibration: {axis[1]} against {axis[0]}, in 10 bins; below, how many rows "
                  "fall in each bin.")


def regression_plots(y: np.ndarray, predicted: np.ndarray) -> str:
    shown = np.arange(y.size)
    if y.size > MAX_SCATTER_POINTS:
        shown = np.sort(np.random.default_rng(0).choice(y.size, MAX_SCATTER_POINTS, replace=False))
    fig = _new_figure(5.5, 5.0)
    ax = fig.add_subplot()
    ax.scatter(y[shown], predicted[shown], s=8, alpha=0.4, edgecolors="none")
    low = float(min(y.min(), predicted.min()))
    high = float(max(y.max(), predicted.max()))
    ax.plot([low, high], [low, high], ls="--", lw=1, color="grey", label="perfect prediction")
    ax.set(xlabel="actual", ylabel="predicted", title="Predicted vs actual")
    ax.legend(loc="upper left", fontsize=8)
    sampled = f" ({MAX_SCATTER_POINTS} of {y.size} rows sampled)" if shown.size < y.size else ""
    scatter = _embed(fig, "Predicted vs actual", f"Each dot is one row{sampled}.")

    errors = curves.residuals(y, predicted)
    fig = _new_figure(5.5, 5.0)
    ax = fig.add_subplot()
    ax.hist(errors, bins=int(np.clip(np.sqrt(errors.size), 10, 50)), color="tab:blue", alpha=0.8)
    ax.axvline(0.0, ls="--", lw=1, color="grey")
    ax.set(xlabel="residual (actual - predicted)", ylabel="rows",
           title=f"Residuals (mean {errors.mean():.3g}, sd {errors.std():.3g})")
    histogram = _embed(fig, "Residual histogram",
                       "Residuals: positive means the model predicted too low.")
    return f'<div class="grid">{scatter}{histogram}</div>'


def training_plots(model: Any) -> str:
    """Feature importance and learning curve of a `lathe.model.Model` (read from its
    manifest, else asked of its family)."""
    manifest = model.manifest or {}
    importance = manifest.get("feature_importance") or model.family.feature_importance()
    curve = manifest.get("learning_curve") or {}
    values = list(curve.get("values") or model.family.learning_curve or [])
    metric = str(curve.get("metric") or model.family.learning_curve_metric or "validation metric")
    parts = []
    if importance:
        parts.append(_importance_plot(importance))
    else:
        parts.append(_note(f"The {model.family.name} family does not report feature importance."))
    if values:
        parts.append(_learning_curve_plot(values, metric))
    else:
        parts.append(_note("No learning curve was recorded for this model."))
    return '<div class="grid">' + "".join(parts) + "</div>"


def _importance_plot(importance: dict[str, float]) -> str:
    ranked = sorted(importance.items(), key=lambda kv: -float(kv[1]))[:TOP_FEATURES]
    fig = _new_figure(6.0, max(2.4, 1.2 + 0.28 * len(ranked)))
    ax = fig.add_subplot()
    names = [_plot_label(name, 32) for name, _ in ranked][::-1]  # largest on top
    ax.barh(range(len(ranked)), [float(v) for _, v in ranked][::-1], color="tab:blue")
    ax.set_yticks(range(len(ranked)), names, fontsize=8)
    ax.set(xlabel="importance (share of total)", title="Feature importance")
    shown = f"top {len(ranked)} of {len(importance)}" if len(importance) > len(ranked) else "all"
    return _embed(fig, "Feature importance", f"Feature importance, {shown} features.")


def _learning_curve_plot(values: list[float], metric: str) -> str:
    fig = _new_figure(5.5, 4.0)
    ax = fig.add_subplot()
    rounds = np.arange(1, len(values) + 1)
    ax.plot(rounds, values, lw=1.6, marker="o" if len(values) < 30 else None)
    ax.set(xlabel="round", ylabel=_plot_label(metric, 40), title="Learning curve (validation)")
    return _embed(fig, "Learning curve",
                  f"Validation {metric} after each boosting round or epoch ({len(values)} recorded).")
