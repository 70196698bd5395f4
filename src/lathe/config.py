"""The typed configuration (lathe.yaml), validated at the edge; its resolved form is saved
in every artifact so no default stays hidden.

>>> cfg = LatheConfig.model_validate({"data": {"target": "income"}, "train": {"preset": "best"}})
>>> cfg.train.preset, cfg.split.test_size
('best', 0.1)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lathe.errors import ConfigError, NotFound

__all__ = [
    "LatheConfig", "DataConfig", "SplitConfig", "TrainConfig", "PrivacyConfig", "load_config"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Strict):
    target: str | None = None
    task: Literal["binary", "multiclass", "regression"] | None = None
    text_columns: list[str] = Field(default_factory=list)
    categorical_columns: list[str] = Field(default_factory=list)
    drop_columns: list[str] = Field(default_factory=list)
    encoding: str | None = None
    # the label meaning "none of the others" (intent data's "oos"): auto finds a known name
    # (lathe.models.catch_all.CATCH_ALL_NAMES), off turns the routing off
    catch_all: str = "auto"
    # binary labels: the class plain precision/recall/f1 describe (default: the second of the
    # sorted classes, scikit-learn's convention)
    positive_class: str | None = None
    # refuse to train when a feature column holds PII (emails, phones, IDs, cards, ...):
    # mask it first with `lathe privacy mask`
    refuse_pii: bool = False

    @field_validator("positive_class", mode="before")
    @classmethod
    def _label_as_text(cls, value: Any) -> Any:
        if isinstance(value, bool):  # YAML 1.1 reads yes/no/on/off/true/false as booleans
            raise ValueError("a class label must be quoted in YAML (e.g. positive_class: 'yes')")
        return None if value is None else str(value)

    @field_validator("catch_all", mode="before")
    @classmethod
    def _off_is_false(cls, value: Any) -> Any:
        return "off" if value is False or value is None else value  # YAML reads `off` as false


class SplitConfig(_Strict):
    valid_size: float = Field(0.1, gt=0, lt=0.5)
    test_size: float = Field(0.1, ge=0, lt=0.5)
    seed: int = 0


class TrainConfig(_Strict):
    model: str = "auto"
    preset: Literal["fast", "best"] = "fast"
    time_budget_s: float | None = Field(None, gt=0)
    params: dict[str, Any] = Field(default_factory=dict)
    seed: int = 0
    threads: int | None = Field(None, ge=1)
    # with a catch-all label: the share of in-scope validation rows that may be routed to it
    abstain_rate: float = Field(0.03, ge=0, lt=0.5)
    # once the test split is scored, refit on every labelled row with what the fit settled on
    refit: bool = True

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        from lathe.models import FAMILY_NAMES

        if value != "auto" and value not in FAMILY_NAMES:
            raise ValueError(f"unknown model {value!r}; choose auto or one of {FAMILY_NAMES}")
        return value


class FootprintConfig(_Strict):
    # where the electricity comes from, for kg CO2: an ISO country code (FR, DEU, USA) or
    # COUNTRY:region (USA:california); none: CodeCarbon's world average
    region: str | None = None
    # measure energy with CodeCarbon (off: lathe's estimate from CPU time, method tdp-estimate)
    codecarbon: bool = True


class PrivacyConfig(_Strict):
    """Differentially private training (`--dp-epsilon`): the (epsilon, delta) the whole run
    may spend on the training rows, and how DP-SGD spends it (see `lathe.privacy.dp`)."""

    epsilon: float | None = Field(None, gt=0)
    # None: min(1e-5, 1/(10 n)) for n rows in the train split
    delta: float | None = Field(None, gt=0, lt=1)
    # per-example gradient clipping norm, passes over the data, expected (Poisson) batch
    max_grad_norm: float = Field(1.0, gt=0)
    epochs: int = Field(15, ge=1)
    batch_size: int = Field(512, ge=8)
    lr: float | None = Field(None, gt=0)
    accountant: Literal["prv", "rdp", "gdp"] = "prv"
    # the share of epsilon spent on preprocessing (numeric bounds, category vocabularies);
    # columns listed in `bounds` / `categories` are public and cost nothing
    preprocessing_share: float = Field(0.2, ge=0, lt=1)
    bounds: dict[str, tuple[float, float]] = Field(default_factory=dict)
    categories: dict[str, list[str]] = Field(default_factory=dict)


class LatheConfig(_Strict):
    version: Literal[1] = 1
    data: DataConfig = Field(default_factory=DataConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    footprint: FootprintConfig = Field(default_factory=FootprintConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    node = tree
    *parents, leaf = dotted.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value


def load_config(
    path: str | os.PathLike[str] | None = None, *, base: dict[str, Any] | None = None, **overrides: Any
) -> LatheConfig:
    """Read lathe.yaml (optional), apply overrides given as `section__field=value`.

    None-valued overrides are ignored, so CLI options that were not given keep the file's value.
    """
    raw: dict[str, Any] = dict(base or {})
    source = "configuration"
    if path is not None:
        file = Path(path)
        source = str(file)
        if not file.exists():
            raise NotFound(f"{file}: no such config file", file=str(file))
        try:
            raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(
                f"{file}:{where} is not valid YAML ({getattr(exc, 'problem', exc)})", file=str(file)
            ) from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{file}: expected a mapping at the top level", file=str(file))
    for key, value in overrides.items():
        if value is not None and value != () and value != []:
            _set_dotted(raw, key.replace("__", "."), value)
    try:
        return LatheConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            f"{source}: field {field!r}: {first['msg']} (given {first.get('input')!r})",
            hint=f"{len(exc.errors())} problem(s); see the README's configuration section",
            field=field,
        ) from None
