"""Supply chain: the SBOM of the serve image, and the pod's locked-down filesystem (the
dependency audit is .ci/audit.py, run by .ci/run)."""

from __future__ import annotations

import json

from lathe.serving.deploy_manifests import kubernetes_manifests
from lathe.serving.sbom import cyclonedx_sbom


def test_sbom_lists_the_image_its_packages_and_the_model():
    sbom = cyclonedx_sbom("lathe-churn:abc", extras="serve,registry", base="python:3.11-slim",
                          model={"route": "churn", "version": 3, "artifact_sha256": "f" * 64})
    json.dumps(sbom)  # JSON-ready
    by_name = {c["name"].lower(): c for c in sbom["components"]}
    for needed in ("lathe", "fastapi", "uvicorn", "sqlalchemy", "psycopg", "numpy", "lightgbm"):
        assert needed in by_name, needed
        assert by_name[needed]["purl"].startswith(f"pkg:pypi/{needed}@")
    assert "torch" not in by_name  # the text extra was not asked for
    model = by_name["churn"]
    assert model["type"] == "machine-learning-model"
    assert model["hashes"] == [{"alg": "SHA-256", "content": "f" * 64}]
    refs = {c["bom-ref"] for c in sbom["components"]}
    assert set(sbom["dependencies"][0]["dependsOn"]) == refs and len(refs) == len(
        sbom["components"])


def test_the_pod_runs_as_non_root_on_a_read_only_root_filesystem():
    deployment = kubernetes_manifests("churn", "img:1")["deployment.yaml"]
    spec = deployment["spec"]["template"]["spec"]
    assert spec["securityContext"] == {"runAsNonRoot": True, "runAsUser": 10001}
    container = spec["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
