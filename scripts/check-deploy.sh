#!/usr/bin/env bash
# Checks what cannot run here (no Docker engine): compose.yaml against the Compose
# Specification's JSON schema with check-jsonschema (which ships the official
# compose-spec.json), then what a schema cannot see: references between services,
# volumes and profiles, and that the Dockerfile builds with scripts/setup.sh, the
# toolchain and the ONNX Runtime that CI uses.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh
TOOLS="$ROOT/.cache/tools"
if [ ! -x "$TOOLS/bin/check-jsonschema" ]; then
  echo "check-deploy: installing check-jsonschema from PyPI into $TOOLS" >&2
  python3 -m pip install --quiet --disable-pip-version-check --target "$TOOLS" "check-jsonschema==0.39.0"
fi
PYTHONPATH="$TOOLS" "$TOOLS/bin/check-jsonschema" --builtin-schema vendor.compose-spec compose.yaml

PYTHONPATH="$TOOLS" ORT_VERSION="$ORT_VERSION" python3 - <<'PY'
import os, re, sys
from ruamel.yaml import YAML

problems = []
compose = YAML(typ="safe").load(open("compose.yaml"))
services = compose.get("services", {})
volumes = set(compose.get("volumes") or {})
for name, service in services.items():
    profiles = set(service.get("profiles", []))
    depends = service.get("depends_on", {})
    for dependency in (depends if isinstance(depends, dict) else {d: {} for d in depends}):
        if dependency not in services:
            problems.append(f"{name} depends on {dependency}, which is not a service")
            continue
        # A service may only wait for one that starts with it: one without
        # profiles, or one in a profile it shares.
        theirs = set(services[dependency].get("profiles", []))
        if theirs and not (theirs & profiles):
            problems.append(f"{name} depends on {dependency}, which only starts with profiles {sorted(theirs)}")
    for mount in service.get("volumes", []):
        source = mount.split(":")[0] if isinstance(mount, str) else mount.get("source")
        if source and not source.startswith((".", "/", "~")) and source not in volumes:
            problems.append(f"{name} mounts volume {source}, which is not declared under volumes")
    if "healthcheck" not in service:
        problems.append(f"{name} has no healthcheck")
    image = service.get("image", "")
    if image and not service.get("build") and (":" not in image or image.endswith(":latest")):
        problems.append(f"{name} uses {image}: pin a version")

dockerfile = open("Dockerfile").read()
rust = re.search(r'^rust-version = "([^"]+)"', open("Cargo.toml").read(), re.M).group(1)
if not re.search(rf"^FROM rust:{re.escape(rust)}[-\w]* AS build", dockerfile, re.M):
    problems.append(f"Dockerfile does not build with rust:{rust}, the workspace's rust-version")
if not re.search(r"^RUN scripts/setup\.sh", dockerfile, re.M):
    problems.append("Dockerfile does not build with scripts/setup.sh, the script CI runs")
if f"libonnxruntime.so.{os.environ['ORT_VERSION']}" not in dockerfile:
    problems.append(f"Dockerfile's ORT_DYLIB_PATH is not ONNX Runtime {os.environ['ORT_VERSION']} (scripts/env.sh)")
if not re.search(r"FOOTNOTE_RERANKER_DIR=(\S+)", dockerfile) or "/out/reranker" not in dockerfile:
    problems.append("Dockerfile does not ship the answer judge's model and point FOOTNOTE_RERANKER_DIR at it")
if not re.search(r"^USER (?!root)\S+", dockerfile, re.M):
    problems.append("Dockerfile does not switch to a non-root user")
if "HEALTHCHECK" not in dockerfile:
    problems.append("Dockerfile has no HEALTHCHECK")

for problem in problems:
    print(f"check-deploy: {problem}", file=sys.stderr)
if problems:
    sys.exit(1)
print(f"check-deploy: compose.yaml ({len(services)} services) and Dockerfile are consistent")
PY
