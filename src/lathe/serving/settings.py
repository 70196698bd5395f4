"""Server settings: one validated pydantic model, built by `lathe serve` or by tests.

>>> s = ServeSettings(models=["models/churn"])
>>> s.host, s.port, s.batching, s.auth_enabled
('127.0.0.1', 8000, True, False)
>>> ServeSettings(models=["m"], host="0.0.0.0")  # doctest: +ELLIPSIS
Traceback (most recent call last):
pydantic_core._pydantic_core.ValidationError: ...
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator

__all__ = ["ServeSettings", "LOCAL_HOSTS"]

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class ServeSettings(BaseModel):
    """Everything `create_app` needs; defaults are safe for a laptop, not for the internet."""

    version: int = 1
    models: list[str] = Field(min_length=1, description="artifact paths or registry refs")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(default=1, ge=1)
    # --- auth -----------------------------------------------------------------------------
    api_keys: Path | None = Field(
        default=None, description="YAML file of hashed keys; None = auth off"
    )
    metrics_public: bool = Field(
        default=True, description="serve /metrics without a key (scrapers)"
    )
    # --- transport and exposure (lathe.serving.hardening) ---------------------------------
    tls_cert: Path | None = Field(default=None, description="PEM certificate: serve HTTPS")
    tls_key: Path | None = Field(default=None, description="PEM private key of tls_cert")
    docs: bool = Field(default=True, description="serve /openapi.json and /docs")
    # --- speed ----------------------------------------------------------------------------
    batching: bool = True
    max_batch: int = Field(default=64, ge=1)
    max_wait_ms: float = Field(default=2.0, ge=0)
    model_threads: int = Field(default=2, ge=1, description="threads that run model calls")
    # --- limits ---------------------------------------------------------------------------
    max_body_bytes: int = Field(default=1 << 20, ge=1)
    max_rows_per_request: int = Field(default=1000, ge=1)
    max_rows_batch_endpoint: int = Field(default=100_000, ge=1)
    timeout_s: float = Field(default=10.0, gt=0)
    body_timeout_s: float = Field(
        default=30.0, gt=0, description="most time a JSON body may take to arrive (408 after)"
    )
    drain_timeout_s: float = Field(
        default=30.0, ge=1, description="most time SIGTERM waits for requests in progress"
    )
    # --- hot reload -----------------------------------------------------------------------
    reload_interval_s: float = Field(default=5.0, ge=0, description="0 turns polling off")
    store: str | None = Field(default=None, description="registry URL (default LATHE_STORE)")
    # --- observability --------------------------------------------------------------------
    prediction_log: str | None = Field(
        default="sqlite:///.lathe/predictions.db", description="SQLAlchemy URL; None turns it off"
    )
    prediction_log_queue: int = Field(default=10_000, ge=1)
    mask_pii: bool = Field(
        default=False,
        description="mask PII (lathe.privacy.pii) in what the prediction log stores: request "
        "inputs, row ids and the client's request id; the model still sees the raw rows",
    )
    row_id_field: str | None = Field(
        default="row_id",
        description="a row field that carries the row's own id (stored in the prediction "
        "log for per-row feedback; not a model input)",
    )
    # --- experiments (lathe.serving.experiments) ------------------------------------------
    experiments: bool = Field(default=False, description="route by running experiments")
    experiments_missing_unit: Literal["reject", "control"] = "reject"
    experiments_interval_s: float = Field(default=30.0, ge=0, description="guardrail checks")

    @property
    def auth_enabled(self) -> bool:
        return self.api_keys is not None

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None and self.tls_key is not None

    @model_validator(mode="after")
    def _auth_off_only_on_localhost(self) -> ServeSettings:
        # An open prediction server on a public interface is how models and data leak.
        if self.api_keys is None and self.host not in LOCAL_HOSTS:
            raise ValueError(
                f"serving on {self.host} without API keys is refused; pass --api-keys keys.yaml "
                "(see `lathe serve --help`) or bind to 127.0.0.1"
            )
        return self
