# syntax=docker/dockerfile:1
# The kasugai controller image (also usable for `kasugai diff --cluster` in CI). Build from the
# repository root with scripts/build-images.sh (all images, cached), or:
#   docker build -f manifests/controller.Dockerfile -t localhost/kasugai-controller:latest .
# Non-root (65532), no shell needed at run time, works with a read-only root filesystem.
ARG BASE_IMAGE=python:3.11-slim

# The same build stage as the other images: kasugai and its dependencies, wheels only (no compiler
# needed), installed for the base's own interpreter under /staging, which is all the final stage
# takes. pip runs from a throw-away venv because Debian's python3 has no pip of its own. No .pyc
# files: they would add a third to the size (the kubernetes client alone is 75 MB of source).
FROM ${BASE_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md requirements.lock ./
COPY kasugai kasugai
COPY functions/kasugai_functions functions/kasugai_functions
COPY sidecar/kasugai_sidecar sidecar/kasugai_sidecar
RUN python3 -m venv /opt/pip \
    && /opt/pip/bin/pip --python /usr/local/bin/python3 install --root /staging --no-cache-dir \
       --no-compile --only-binary :all: --no-warn-script-location -c requirements.lock .

FROM ${BASE_IMAGE}
COPY --from=build /staging/ /
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    KASUGAI_LOG_FORMAT=json
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["kasugai"]
CMD ["controller"]
