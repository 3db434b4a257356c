# Multi-stage: build a wheel with the toolchain, run it on a slim image as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY aidevops aidevops
COPY receiver receiver
COPY stream stream
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /app aidevops
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY deploy/templates /app/deploy/templates
USER aidevops
ENV AIDEVOPS_TELEGRAM_TEMPLATE_PATH=/app/deploy/templates/telegram.toml \
    PTB_TIMEDELTA=true
EXPOSE 9201 6066
ENTRYPOINT ["aidevops"]
CMD ["receiver"]
