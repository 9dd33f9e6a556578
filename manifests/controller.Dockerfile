# syntax=docker/dockerfile:1
# The kasugai controller image (also usable for `kasugai diff --cluster` in CI).
#   docker build -f manifests/controller.Dockerfile -t localhost/kasugai-controller:latest .
# Non-root (65532), no shell needed at run time, works with a read-only root filesystem.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY kasugai kasugai
COPY functions functions
COPY sidecar sidecar
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-compile /wheels/*.whl
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    KASUGAI_LOG_FORMAT=json
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["kasugai"]
CMD ["controller"]
