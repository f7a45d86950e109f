# The torghut-sim code location's image: `dagster api grpc` for torghut_sim.definitions, and what every run
# pod of the K8sRunLauncher executes (`dagster api execute_run`). Build and push it to your registry:
#
#   docker build -t REGISTRY/torghut-sim:TAG . && docker push REGISTRY/torghut-sim:TAG
#
# The local stack builds the same content without a container builder (torghut_sim/devstack/image_spec.py:
# the same Debian packages, paths, lock and command; image_build.py assembles them), see deploy/README.md.
# Keep the two in step.

# The native Kafka engine, static so it runs on the runtime stage's libc.
FROM golang:1.25-bookworm AS engine
WORKDIR /src
COPY native/kafka-engine/ ./
RUN CGO_ENABLED=0 go build -trimpath -o /torghut-kafka-engine .

# uv, the installer of the lock; only bound into the step that uses it, so it is not in the image.
FROM debian:bookworm-slim AS uv
RUN apt-get update && apt-get install -y --no-install-recommends python3-pip \
 && python3 -m pip install --break-system-packages --no-cache-dir --target /uv "uv==0.9.30"

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3.11 ca-certificates tzdata libstdc++6 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*
WORKDIR /opt/torghut-sim
RUN mkdir -p /opt/dagster/dagster_home
# Layer 1: exactly the locked dependencies, without dev tools, on Debian's Python 3.11 (rebuilt only when
# pyproject.toml or the lock changes).
COPY pyproject.toml uv.lock ./
# (The build backend wants the readme pyproject names; its text comes with layer 2.)
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,from=uv,source=/uv/bin/uv,target=/usr/local/bin/uv \
    touch README.md && UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never \
    uv sync --frozen --no-dev --no-editable --compile-bytecode --python /usr/bin/python3.11 --no-install-project
# Layer 2: the project itself and the engine.
COPY README.md workspace.yaml ./
COPY torghut_sim/ torghut_sim/
COPY assets/ assets/
COPY resources/ resources/
COPY sensors/ sensors/
COPY config/ config/
COPY native/kafka-engine/ native/kafka-engine/
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,from=uv,source=/uv/bin/uv,target=/usr/local/bin/uv \
    UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never \
    uv sync --frozen --no-dev --no-editable --compile-bytecode --python /usr/bin/python3.11
COPY --from=engine /torghut-kafka-engine /opt/torghut-sim/.venv/bin/torghut-kafka-engine
ENV PATH=/opt/torghut-sim/.venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    VIRTUAL_ENV=/opt/torghut-sim/.venv \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    DAGSTER_GRPC_PORT=3030 \
    PYTHONUNBUFFERED=1 \
    LANG=C.UTF-8
# The code location listens on localhost:$DAGSTER_GRPC_PORT unless DAGSTER_GRPC_HOST says otherwise (the
# Deployment in deploy/k8s/dagster sets it to the pod's address so the webserver and daemon reach it).
EXPOSE 3030
CMD ["dagster", "api", "grpc", "--module-name", "torghut_sim.definitions", "--attribute", "defs"]
