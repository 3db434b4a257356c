# Multi-stage: build a wheel with the toolchain, run it on a slim image as a non-root user.
FROM python:3.11-slim AS build
# A C compiler for the receiver's C module (receiver/_wire.c); the runtime image needs none.
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY aidevops aidevops
COPY cli cli
COPY receiver receiver
COPY stream stream
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
# /app/data is where processes write (the notifier's sent log): owned by the user, so a named
# volume mounted there starts with that ownership too.
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home aidevops \
    && mkdir -p /app/data \
    && chown -R aidevops:aidevops /app
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY deploy/templates /app/deploy/templates
COPY --chmod=755 deploy/docker/entrypoint.sh /usr/local/bin/aidevops-entrypoint
COPY --chmod=755 deploy/docker/healthcheck.py /usr/local/bin/aidevops-healthcheck
USER 10001:10001
ENV AIDEVOPS_TELEGRAM_TEMPLATE_PATH=/app/deploy/templates/telegram.toml \
    AIDEVOPS_NOTIFY_SENT_LOG_PATH=/app/data/sent-log.jsonl \
    PTB_TIMEDELTA=true
# 9201 receiver (remote write), 9202 read API, 6066 worker /metrics.
EXPOSE 9201 9202 6066
# The receiver's liveness by default; compose and ECS give each process its own check.
HEALTHCHECK --interval=15s --timeout=6s --start-period=30s --retries=3 \
    CMD ["python", "/usr/local/bin/aidevops-healthcheck", "http://127.0.0.1:9201/healthz"]
ENTRYPOINT ["aidevops-entrypoint"]
CMD ["receiver"]
