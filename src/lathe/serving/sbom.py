"""A CycloneDX 1.5 SBOM of the serve image `lathe deploy` writes (`sbom.cdx.json`).

The image is described as a container whose components are: the base image, the lathe wheel,
every Python distribution the wheel's extras pull in (the requirement graph walked through
the installed metadata, with markers evaluated for the extras; versions as installed where
`lathe deploy` ran, which is what the wheel was built against), and the model artifact
itself (type machine-learning-model, with its sha256). Each library has a purl
(`pkg:pypi/NAME@VERSION`), so a scanner (Grype, Dependency-Track) can match advisories.

>>> sbom = cyclonedx_sbom("lathe-x:1", extras="serve", base="python:3.11-slim",
...                       model={"route": "churn", "artifact_sha256": "ab" * 32})
>>> sbom["bomFormat"], sbom["specVersion"], sbom["metadata"]["component"]["type"]
('CycloneDX', '1.5', 'container')
>>> names = {c["name"] for c in sbom["components"]}
>>> {"lathe", "fastapi", "uvicorn", "numpy", "churn"} <= names
True
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from lathe import __version__

__all__ = ["cyclonedx_sbom", "python_components"]


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def python_components(root: str = "lathe", extras: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """(name, version) of `root` and everything it requires with `extras`, installed here."""
    from packaging.requirements import InvalidRequirement, Requirement

    seen: dict[str, dict[str, str]] = {}
    todo: list[tuple[str, tuple[str, ...]]] = [(root, extras)]
    while todo:
        name, wanted = todo.pop()
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        key = _key(dist.metadata["Name"])
        if key in seen and not wanted:
            continue
        seen[key] = {"name": dist.metadata["Name"], "version": dist.version}
        for text in dist.requires or []:
            try:
                req = Requirement(text)
            except InvalidRequirement:
                continue
            envs = [{"extra": e} for e in wanted] or [{"extra": ""}]
            if req.marker is not None and not any(req.marker.evaluate(env) for env in envs):
                continue
            if _key(req.name) not in seen or req.extras:
                todo.append((req.name, tuple(sorted(req.extras))))
    return sorted(seen.values(), key=lambda c: _key(c["name"]))


def cyclonedx_sbom(image: str, *, extras: str, base: str,
                   model: dict[str, Any] | None = None) -> dict[str, Any]:
    """The SBOM document (a dict, JSON-ready) of the image `image`."""
    libraries = [{"type": "library", "bom-ref": f"pkg:pypi/{_key(c['name'])}@{c['version']}",
                  "name": c["name"], "version": c["version"],
                  "purl": f"pkg:pypi/{_key(c['name'])}@{c['version']}"}
                 for c in python_components("lathe", tuple(e for e in extras.split(",") if e))]
    if not any(c["name"].lower() == "lathe" for c in libraries):  # lathe run from a source tree
        libraries.insert(0, {"type": "library", "bom-ref": f"pkg:pypi/lathe@{__version__}",
                             "name": "lathe", "version": __version__,
                             "purl": f"pkg:pypi/lathe@{__version__}"})
    name, _, tag = base.partition(":")
    components: list[dict[str, Any]] = [
        {"type": "container", "bom-ref": f"base:{base}", "name": name, "version": tag or "latest",
         "description": "base image"}, *libraries]
    if model is not None and model.get("artifact_sha256"):
        components.append({"type": "machine-learning-model", "bom-ref": f"model:{model['route']}",
                           "name": model["route"], "version": str(model.get("version") or ""),
                           "hashes": [{"alg": "SHA-256", "content": model["artifact_sha256"]}],
                           "description": "lathe artifact (sha256 of its manifest's file table)"})
    return {
        "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "metadata": {"timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
                     "tools": {"components": [{"type": "application", "name": "lathe deploy",
                                               "version": __version__}]},
                     "component": {"type": "container", "bom-ref": f"image:{image}",
                                   "name": image}},
        "components": components,
        "dependencies": [{"ref": f"image:{image}",
                          "dependsOn": [c["bom-ref"] for c in components]}],
    }
