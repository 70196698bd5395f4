"""The container build context `lathe deploy` writes: everything an image needs, nothing else.

    deploy/
      Dockerfile        python:3.11-slim + lathe installed from the wheel below
      wheels/           lathe-VERSION-py3-none-any.whl, built from this lathe (pip wheel)
      models/ROUTE/     the artifact, exactly as registered ("bundled" mode only)
      deploy.json       what was deployed: mode, reference, route, the artifact's sha256
      entrypoint.py     checks the artifact against its hashes, then execs `lathe serve`
      make_keys.py      makes an API key, prints it once, writes keys.yaml (hashes only)
      README.md         build, keys, run: the commands, filled in

`docker build -t IMAGE deploy/` works from any folder: the context holds the wheel and the
model, not the lathe source tree. At start-up the entrypoint re-hashes every file of the
artifact against its manifest and the manifest against the sha256 recorded at deploy time,
and exits 65 with one line if anything differs. In "registry" mode there is no model in the
image: the server resolves NAME@champion from the shared store (LATHE_STORE) and follows
the alias when it moves.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from lathe.errors import MissingDependency, UsageError
from lathe.serving.deploy_manifests import PORT

__all__ = ["dockerfile", "build_wheel", "ENTRYPOINT", "MAKE_KEYS", "readme", "extras_for",
           "PYTHON"]

PYTHON = "3.11"  # the Makefile's python3.11
TORCH_FAMILIES = ("mlp", "text")


def extras_for(mode: str, family: str | None, files: list[str], *,
               monitoring: bool = False) -> str:
    """The extras the image installs: `serve`; the registry's for registry mode; torch and
    ONNX Runtime when the model needs them; with `monitoring` (k8s: the CronJobs run
    `lathe monitor run` and `lathe retrain` from the image) `monitor`, and `registry` for a
    PostgreSQL prediction log and store."""
    extras = ["serve"]
    if mode == "registry" or monitoring:
        extras.append("registry")
    if monitoring:
        extras.append("monitor")
    if family in TORCH_FAMILIES or any(f.endswith(".pt") for f in files):
        extras.append("text")
    if any(f.endswith(".onnx") for f in files):
        extras.append("onnx")
    return ",".join(extras)


def dockerfile(wheel: str, extras: str, *, bundled: bool) -> str:
    model = "COPY models/ ./models/\n" if bundled else ""
    return f"""\
# Self-contained: docker build -t IMAGE .   (run from this folder; see README.md)
FROM python:{PYTHON}-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
# LightGBM's wheels link the system OpenMP runtime, which the slim image does not have
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 \\
    && rm -rf /var/lib/apt/lists/*
# /data (the prediction log) belongs to the server's user, so a fresh volume there is writable
RUN useradd --create-home --uid 10001 lathe && mkdir -p /data && chown lathe:lathe /data
WORKDIR /app
# lathe from the wheel built by `lathe deploy` (pip wheel of the project), with the extras
# this model needs; its dependencies come from the package index
COPY wheels/ /tmp/wheels/
RUN python -m pip install --quiet --upgrade pip \\
    && python -m pip install --quiet "/tmp/wheels/{wheel}[{extras}]" && rm -rf /tmp/wheels
COPY deploy.json entrypoint.py make_keys.py ./
{model}USER lathe
ENV PORT={PORT}
EXPOSE {PORT}
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{{os.environ[\\"PORT\\"]}}/healthz')"
# checks the artifact's hashes, then execs `lathe serve` (API keys from /etc/lathe/keys.yaml)
ENTRYPOINT ["python", "/app/entrypoint.py"]
"""


ENTRYPOINT = '''\
"""Start the lathe server on what `lathe deploy` recorded in deploy.json (next to this file).

bundled:  models/ROUTE is verified first (every file against the manifest's sha256, and the
          manifest against the sha256 recorded at deploy time); a mismatch exits 65.
registry: serves REF (NAME@champion) from LATHE_STORE and follows the alias.
Settings from the environment: PORT (8000), LATHE_HOST (0.0.0.0), LATHE_API_KEYS
(/etc/lathe/keys.yaml), LATHE_PREDICTION_LOG (sqlite:////data/predictions.db).
"""

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def fail(message: str, code: int) -> None:
    sys.stderr.write(f"error: {message}\\n")
    sys.exit(code)


def main() -> None:
    spec = json.loads((HERE / "deploy.json").read_text(encoding="utf-8"))
    options = ["--host", os.environ.get("LATHE_HOST", "0.0.0.0"),
               "--port", os.environ.get("PORT", "8000"),
               "--api-keys", os.environ.get("LATHE_API_KEYS", "/etc/lathe/keys.yaml"),
               "--prediction-log",
               os.environ.get("LATHE_PREDICTION_LOG", "sqlite:////data/predictions.db")]
    if spec["mode"] == "bundled":
        from lathe.artifact import artifact_sha256, verify
        from lathe.errors import LatheError

        root = HERE / "models" / spec["route"]
        try:
            verify(root)
            found = artifact_sha256(root)
        except LatheError as err:
            fail(f"the model in this image failed its check: {err}", err.exit_code)
        if found != spec["artifact_sha256"]:
            fail(f"{root}: artifact sha256 {found[:12]}... is not the deployed "
                 f"{spec['artifact_sha256'][:12]}... (rebuild the image with lathe deploy)", 65)
        sys.stderr.write(f"verified {spec['ref']} ({found[:12]}...) in {root}\\n")
        target = str(root)
    else:
        if not os.environ.get("LATHE_STORE"):
            fail("LATHE_STORE is not set: the registry URL comes from the store Secret", 78)
        target = spec["ref"]
    argv = [sys.executable, "-m", "lathe.cli", "serve", target, *options]
    os.execv(sys.executable, argv)  # the server becomes this process: signals reach it


if __name__ == "__main__":
    main()
'''


MAKE_KEYS = '''\
"""Make an API key for the lathe server: the key is printed once (stderr), keys.yaml (stdout)
holds only its sha256, in lathe.serving.auth's format. Standard library only.

    python make_keys.py --name web > keys.yaml
    python make_keys.py --name ops --scopes predict,admin --append keys.yaml > keys.new
"""

import argparse
import hashlib
import secrets
import sys

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--name", required=True, help="who uses the key (a client or team)")
parser.add_argument("--scopes", default="predict", help="predict and/or admin, comma-separated")
parser.add_argument("--append", help="an existing keys.yaml to add the key to")
args = parser.parse_args()
key = "lk_" + secrets.token_urlsafe(24)
entry = (f"  - name: {args.name}\\n    sha256: {hashlib.sha256(key.encode()).hexdigest()}\\n"
         f"    scopes: [{', '.join(s.strip() for s in args.scopes.split(',') if s.strip())}]\\n")
head = open(args.append, encoding="utf-8").read().rstrip("\\n") + "\\n" if args.append else "keys:\\n"
sys.stdout.write(head + entry)
sys.stderr.write(f"API key for {args.name} (shown once; send it as 'Authorization: Bearer KEY'):"
                 f"\\n{key}\\n")
'''


def project_root() -> Path | None:
    """The lathe source tree this lathe runs from (None when installed from a wheel)."""
    import lathe

    root = Path(lathe.__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / "src" / "lathe").is_dir() \
        else None


def build_wheel(into: Path, wheel: str | Path | None = None) -> Path:
    """`wheel` copied into `into`, or one built now from this lathe's project (`pip wheel`)."""
    into.mkdir(parents=True, exist_ok=True)
    if wheel is not None:
        given = Path(wheel)
        if not given.is_file() or not given.name.startswith("lathe-") or given.suffix != ".whl":
            raise UsageError(f"--wheel {given}: not a lathe wheel file",
                             hint="pass a lathe-VERSION-py3-none-any.whl (pip wheel PROJECT)")
        return Path(shutil.copy2(given, into / given.name))
    root = project_root()
    if root is None:
        raise MissingDependency(
            "lathe deploy builds the image's wheel from the lathe project, and this lathe was "
            "installed from a package", hint="pass --wheel lathe-VERSION-py3-none-any.whl")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(into), str(root)], capture_output=True, text=True, check=False)
    wheels = sorted(into.glob("lathe-*.whl"))
    if done.returncode != 0 or not wheels:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise MissingDependency(f"pip wheel {root} failed: {last[0]}",
                                hint="pip install setuptools wheel, or pass --wheel FILE")
    return wheels[-1]


def readme(*, mode: str, ref: str, route: str, app: str, image: str, target: str,
           artifact_sha256: str | None) -> str:
    """The output folder's README: what is in it and the commands, filled in."""
    served = (f"`{ref}` (artifact sha256 `{artifact_sha256}`), copied into `models/{route}/`"
              if mode == "bundled" else
              f"`{ref}`, resolved from the shared registry at start-up; the server follows "
              "the alias when it moves")
    k8s = target == "k8s"
    store = ""
    if mode == "registry":
        store = f"""
## The registry

The pod reads the registry URL from the Secret `{app}-store` (`store-secret.yaml` is its
template) and the blobs from the folder the registry writes them to (`LATHE_BLOBS`), which
must be shared with the pod: the Deployment mounts the PersistentVolumeClaim
`lathe-blobs` (ReadWriteMany/ReadOnlyMany storage such as NFS) at `/blobs`.

    kubectl create secret generic {app}-store --from-literal=url='postgresql://USER:PASSWORD@HOST:5432/DB'
"""
    secret_note = ("" if not k8s else
                   f"\n`secret.yaml` is the template of the Secret `{app}-api-keys`; the first "
                   "command below\nreplaces it with the real one.\n")
    check = ("re-hashes every file of the model against its manifest and the manifest "
             "against the deploy-time sha256, and exits 65 with one line if anything "
             "differs; then it " if mode == "bundled" else "")
    run = (f"""    kubectl create secret generic {app}-api-keys --from-file=keys.yaml --dry-run=client -o yaml > secret.yaml
    kubectl apply -f secret.yaml -f deployment.yaml -f service.yaml -f hpa.yaml"""
           if k8s else f"""    docker run -p {PORT}:{PORT} -v "$PWD/keys.yaml:/etc/lathe/keys.yaml:ro" {image}""")
    if k8s:
        store += f"""
## Monitoring and retraining

`monitor-cronjob.yaml` runs `lathe monitor run` every hour with `monitor-config.yaml`
(drift of the last day against the model's training profile, performance per 6 hours with
the outcomes from `/v1/feedback`, alert rules; it exits 3 when a rule is breached, so the Job
fails) and pushes drift and performance gauges to a Prometheus Pushgateway at
`http://pushgateway:9091` (the dashboard's monitoring panels and the `.monitoring` alerts
read them). `retrain-cronjob.yaml` runs `lathe retrain` weekly on the last 30 days of
labelled predictions and registers a challenger (alias `challenger`; the registry's gate or an
experiment promotes it){"" if mode == "registry" else ": it needs a registry, so it is written suspended"}.
Both read the prediction log the server writes, which they share through a database: create
the Secret (the server uses it when present) and apply the jobs:

    kubectl create secret generic {app}-prediction-log --from-literal=url='postgresql://USER:PASSWORD@HOST:5432/DB'
    kubectl apply -f monitor-config.yaml -f monitor-cronjob.yaml -f retrain-cronjob.yaml
"""
    return f"""# Deploying {ref} with lathe

This folder serves {served}.
It is a complete build context: the wheel in `wheels/` is lathe itself, so the image builds
from this folder alone, anywhere.

## Build

    docker build -t {image} .

## API keys

The server refuses to listen on 0.0.0.0 without API keys. Make one (the key is printed once;
`keys.yaml` holds only its sha256):

    python make_keys.py --name CLIENT > keys.yaml
{secret_note}
## Run

{run}

At start-up `entrypoint.py` {check}runs `lathe serve` on port {PORT}:

    curl -H "Authorization: Bearer KEY" -H "Content-Type: application/json" \\
         -d '{{"rows": [{{...}}]}}' http://HOST:{PORT}/v1/models/{route}/predict
{store}"""
