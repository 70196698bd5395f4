"""`lathe deploy docker|k8s NAME`: a build context that deploys NAME, and its manifests.

NAME (a registry reference NAME, NAME@ALIAS, NAME:VERSION, or an artifact directory) is
resolved first; an unknown one is refused before anything is written. Two modes:

* bundled (default): the artifact is copied into the context and checked against its hashes
  when the container starts; lathe is installed from a wheel built from this lathe;
* registry (`--store postgresql://...`): the image holds no model; the pod resolves
  NAME@champion (or the given alias/version) from the shared registry and follows the alias.

docker: the build context (see `lathe.serving.deploy_context`) and its README.
k8s:    that plus Deployment, Service, HPA, Secret templates (API keys; the store's URL in
        registry mode), CronJobs for `lathe monitor run` and `lathe retrain` with their
        monitor.yaml (deploy_monitoring.py), Prometheus scrape config and alert rules, a
        Grafana dashboard (serving and monitoring panels).

Everything is written into a staging folder first and moved into `out` at the end, so a
failure (unknown NAME, no wheel) leaves `out` as it was.

>>> import tempfile, pathlib
>>> from lathe.registry.testing import fake_artifact
>>> art = fake_artifact(pathlib.Path(tempfile.mkdtemp()) / "churn", seed=1)
>>> out = pathlib.Path(tempfile.mkdtemp()) / "deploy"
>>> result = write_deploy("k8s", str(art), out)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from lathe.errors import UsageError
from lathe.serving.deploy_context import (
    ENTRYPOINT,
    MAKE_KEYS,
    build_wheel,
    dockerfile,
    extras_for,
    readme,
)
from lathe.serving.deploy_manifests import (
    PORT,
    alert_rules,
    app_name,
    grafana_dashboard,
    kubernetes_manifests,
    prometheus_scrape,
)

__all__ = ["write_deploy", "resolve_target", "kubernetes_manifests", "alert_rules",
           "grafana_dashboard", "prometheus_scrape", "dockerfile", "PORT"]

DOCKERIGNORE = "**/__pycache__\n*.pyc\nkeys.yaml\nREADME.md\n"


def _yaml(data: Any) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False)


def resolve_target(name: str, store: str | None) -> dict[str, Any]:
    """What NAME means: mode, reference, route, and (bundled) the artifact directory.

    Raises NotFound (one line) for an unknown name, version or alias.
    """
    from lathe.artifact import artifact_sha256, read_manifest
    from lathe.registry.records import parse_ref

    if store is not None:  # registry mode: the pod resolves it; check it resolves now
        from lathe.registry.refs import looks_like_path
        from lathe.registry.registry import open_registry

        if looks_like_path(name):
            raise UsageError(f"--store serves a registry name, not the path {name!r}",
                             hint="pass NAME, NAME@ALIAS or NAME:VERSION, or drop --store")
        route, version, alias = parse_ref(name)
        ref = f"{route}:{version}" if version is not None else f"{route}@{alias or 'champion'}"
        with open_registry(store) as registry:
            record = registry.resolve(ref)
        return {"mode": "registry", "ref": ref, "route": route, "version": record.version,
                "artifact_sha256": record.artifact_sha256, "family": record.family,
                "files": [], "store": store}
    from lathe.registry.refs import resolve_model_ref

    path = resolve_model_ref(name)
    manifest = read_manifest(path)
    from_registry = not Path(name).exists()
    route = parse_ref(name)[0] if from_registry else path.resolve().name
    return {"mode": "bundled", "ref": name, "route": route, "path": path,
            "version": None, "artifact_sha256": artifact_sha256(path),
            "family": manifest.get("family"), "files": sorted(manifest.get("files", {}))}


def _files(target: str, spec: dict[str, Any], image: str, replicas: int,
           wheel: str) -> dict[str, str]:
    bundled = spec["mode"] == "bundled"
    extras = extras_for(spec["mode"], spec.get("family"), spec["files"],
                        monitoring=target == "k8s")
    app = app_name(spec["route"])
    record = {k: spec[k] for k in ("mode", "ref", "route", "version", "artifact_sha256")}
    files = {
        "Dockerfile": dockerfile(wheel, extras, bundled=bundled),
        ".dockerignore": DOCKERIGNORE,
        "deploy.json": json.dumps({**record, "app": app, "image": image, "extras": extras,
                                   "wheel": wheel}, indent=2) + "\n",
        "entrypoint.py": ENTRYPOINT,
        "make_keys.py": MAKE_KEYS,
        "README.md": readme(mode=spec["mode"], ref=spec["ref"], route=spec["route"], app=app,
                            image=image, target=target,
                            artifact_sha256=spec["artifact_sha256"] if bundled else None),
    }
    if target == "k8s":
        for filename, manifest in kubernetes_manifests(spec["route"], image, replicas,
                                                       mode=spec["mode"],
                                                       ref=spec["ref"]).items():
            files[filename] = _yaml(manifest)
        files["prometheus.yaml"] = _yaml(prometheus_scrape(spec["route"]))
        files["alerts.yaml"] = _yaml(alert_rules(spec["route"]))
        files["dashboard.json"] = json.dumps(grafana_dashboard(spec["route"]), indent=2) + "\n"
    from lathe.serving.deploy_context import PYTHON
    from lathe.serving.sbom import cyclonedx_sbom

    files["sbom.cdx.json"] = json.dumps(cyclonedx_sbom(
        image, extras=extras, base=f"python:{PYTHON}-slim",
        model=record if bundled else None), indent=2) + "\n"
    return files


def write_deploy(target: str, name: str, out: str | Path, *, image: str | None = None,
                 replicas: int = 2, store: str | None = None,
                 wheel: str | Path | None = None) -> dict[str, Any]:
    """Write the deployment of `name` for `target` ('docker' or 'k8s') into `out`.

    Returns one JSON-ready description: mode, ref, route, version, artifact_sha256, image,
    out, files (relative paths written) and commands (keys, build, run or apply).
    """
    if target not in ("docker", "k8s"):
        raise UsageError(f"unknown deploy target {target!r}; valid targets are 'docker' and 'k8s'")
    if replicas < 1:
        raise UsageError(f"--replicas {replicas}: at least 1 is needed")
    spec = resolve_target(name, store)  # an unknown NAME stops here, before any write
    app = app_name(spec["route"])
    image = image or f"{app}:{spec['artifact_sha256'][:12] if spec['mode'] == 'bundled' else 'latest'}"
    folder = Path(out)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        built = build_wheel(staging / "wheels", wheel)
        if spec["mode"] == "bundled":
            shutil.copytree(spec["path"], staging / "models" / spec["route"])
        for filename, text in _files(target, spec, image, replicas, built.name).items():
            (staging / filename).write_text(text, encoding="utf-8")
        written = sorted(str(p.relative_to(staging)) for p in staging.rglob("*") if p.is_file())
        folder.mkdir(exist_ok=True)
        for entry in staging.iterdir():  # replace what an earlier deploy wrote, keep the rest
            old = folder / entry.name
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old)
            os.replace(entry, old)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    commands = {"keys": "python make_keys.py --name CLIENT > keys.yaml",
                "build": f"docker build -t {image} {folder}"}
    if target == "k8s":
        commands["secret"] = (f"kubectl create secret generic {app}-api-keys "
                              "--from-file=keys.yaml --dry-run=client -o yaml > secret.yaml")
        commands["apply"] = ("kubectl apply -f secret.yaml -f deployment.yaml -f service.yaml "
                             "-f hpa.yaml")
        commands["monitoring"] = (
            f"kubectl create secret generic {app}-prediction-log "
            "--from-literal=url='postgresql://USER:PASSWORD@HOST:5432/DB' && kubectl apply "
            "-f monitor-config.yaml -f monitor-cronjob.yaml -f retrain-cronjob.yaml")
        if spec["mode"] == "registry":
            commands["store_secret"] = (f"kubectl create secret generic {app}-store "
                                        "--from-literal=url='postgresql://USER:PASSWORD@HOST/DB'")
    else:
        commands["run"] = (f'docker run -p {PORT}:{PORT} -v "$PWD/keys.yaml:/etc/lathe/keys.yaml:ro"'
                           f" {image}")
    return {"target": target, "mode": spec["mode"], "ref": spec["ref"], "route": spec["route"],
            "version": spec["version"], "artifact_sha256": spec["artifact_sha256"],
            "image": image, "out": str(folder), "files": written, "commands": commands}
