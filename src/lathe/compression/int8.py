"""`int8`: the torch families (`text`, `mlp`) exported to ONNX and quantized to int8.

The child is a family of its own, `onnx-int8` (or `torch-int8` without ONNX Runtime): the
quantized graph plus the parent's input preparation. Those runtimes live with the other
families in `lathe.models.int8`, so serving a compressed artifact needs no compression code;
this module is the compressor that makes them. Tree models have no int8 path here: prune or
distill them instead.

>>> Int8().method
'int8'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lathe.compression._base import COMPRESSORS, CompressionJob, Compressor, child_manifest
from lathe.errors import UsageError
from lathe.models._base import ModelFamily
from lathe.models.int8 import SCHEMES, OnnxInt8, TorchInt8, quantize_onnx

if TYPE_CHECKING:
    from lathe.model import Model

__all__ = ["Int8", "OnnxInt8", "TorchInt8", "quantize_onnx"]

TORCH_FAMILIES = ("text", "mlp")
CALIBRATION_ROWS = 1000


@COMPRESSORS.register("int8")
class Int8(Compressor):
    method = "int8"
    # stated bounds (tests and bench check them): same class on >= 99 % of rows, <= 1 pt loss
    min_agreement = 0.99
    max_accuracy_drop = 0.01

    def __init__(self, backend: str = "auto", scheme: str = "auto") -> None:
        if backend not in ("auto", "onnxruntime", "torch"):
            raise UsageError(f"int8 backend must be auto, onnxruntime or torch, got {backend!r}")
        if scheme not in SCHEMES:
            raise UsageError(f"int8 scheme must be one of {SCHEMES}, got {scheme!r}")
        self.backend = backend
        self.scheme = scheme

    def _backend(self) -> str:
        if self.backend != "auto":
            return self.backend
        try:
            import onnxruntime.quantization  # noqa: F401
        except ImportError:
            return "torch"
        return "onnxruntime"

    def compress(self, parent: Model, job: CompressionJob) -> Model:
        from lathe.model import Model
        from lathe.models.catch_all import CatchAll

        wrapper = parent.family if isinstance(parent.family, CatchAll) else None
        # a catch-all model quantizes the classifier it wraps and keeps its routing rule; the
        # rule's typicality score needs the int8 graph to output the embeddings as well
        family = wrapper.member if wrapper is not None and wrapper.member else parent.family
        with_embedding = wrapper is not None and wrapper.bank is not None
        members = getattr(family, "members", None)
        # an ensemble (the text presets blend the encoder with TF-IDF) quantizes its torch
        # members and keeps the others as they are
        quantizable = ([m for m in members if m.name in TORCH_FAMILIES] if members is not None
                       else [family] if family.name in TORCH_FAMILIES else [])
        if not quantizable:
            raise UsageError(
                f"int8 quantization applies to the torch families {list(TORCH_FAMILIES)} "
                f"(alone, inside an ensemble or a catch-all rule); this model is "
                f"{family.name!r}",
                hint="use --method prune (fewer trees) or --method distill (a smaller student)",
            )
        sample = calibration = None
        if job.fit_frame is not None and len(job.fit_frame):
            # rows the evaluation never sees: they pick the scheme (see OnnxInt8.from_parent)
            calibration, _ = parent.schema.conform(job.fit_frame.head(CALIBRATION_ROWS),
                                                   source="fit data")
            sample = calibration.head(8)
        backend = self._backend()
        scheme = job.scheme or self.scheme
        if scheme not in SCHEMES:
            raise UsageError(f"unknown int8 scheme {scheme!r}",
                             hint="use --scheme auto, dynamic (fastest, biggest batches) or "
                             "weight-only (closest to the parent)")

        if with_embedding and backend != "onnxruntime":
            raise UsageError("int8 of a catch-all model needs ONNX Runtime (its routing rule "
                             "reads the encoder's embeddings from the int8 graph)",
                             hint="install ONNX Runtime: pip install 'lathe[onnx]'")
        # in an ensemble the first text member embeds (Ensemble.embed): only it needs the output
        embedder = next((m for m in (members or [family]) if m.embeds), None)

        def quantize(member: Any) -> ModelFamily:
            if backend == "onnxruntime":
                return OnnxInt8.from_parent(member, sample, per_channel=True, scheme=scheme,
                                            calibration=calibration,
                                            min_agreement=self.min_agreement,
                                            with_embedding=with_embedding and member is embedder)
            return TorchInt8.from_parent(member, sample, per_channel=True)

        if members is None:
            child: ModelFamily = quantize(family)
            quantized = [child]
        else:
            from lathe.models.ensemble import Ensemble

            job.settings["quantized_members"] = [i for i, m in enumerate(members)
                                                 if m.name in TORCH_FAMILIES]
            child = Ensemble([quantize(m) if m.name in TORCH_FAMILIES else m for m in members],
                             getattr(family, "weights", ()))
            child.schema = parent.schema
            child.learning_curve = family.learning_curve
            child.learning_curve_metric = family.learning_curve_metric
            quantized = [m for m in child.members if m.name in ("onnx-int8", "torch-int8")]
        schemes = [m.params.get("scheme", "dynamic") for m in quantized]
        job.settings.update(runtime=backend, weight_type="int8",
                            per_channel=backend == "onnxruntime",
                            quantization=schemes[0] if len(set(schemes)) == 1 else schemes,
                            calibration_rows=0 if calibration is None else len(calibration),
                            calibration_agreement=[m.params.get("calibration_agreement", {})
                                                   for m in quantized])
        if wrapper is not None:
            child = wrapper.around(child)
            job.settings["catch_all"] = "routing rule kept; the classifier inside quantized"
        return Model(child, parent.schema, child_manifest(parent, child))

