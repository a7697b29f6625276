# The one Vigie image: docker-compose.yml runs the worker, the connector and the
# one-shot setup from it. Vigie is installed from a wheel, as a user installs it
# (what it ships is package data: nothing is read from a source tree), with the
# versions of constraints.txt.
FROM python:3.11-slim AS wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY vigie ./vigie
COPY connectors ./connectors
COPY pipeline ./pipeline
COPY commands ./commands
COPY services ./services
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
COPY constraints.txt /tmp/constraints.txt
COPY --from=wheel /wheels /tmp/wheels
RUN pip install --no-cache-dir --constraint /tmp/constraints.txt /tmp/wheels/*.whl \
    && rm -rf /tmp/wheels /tmp/constraints.txt
# The operator's files (docker-compose mounts ./config over them) and the sample feed
# the shipped feed list names (../samples/seed-feed.xml from config/).
COPY config /srv/vigie/config
COPY samples /srv/vigie/samples
# State (the connector's SQLite file, the worker's local data) in /var/lib/vigie, a
# volume in docker-compose, with the gazetteer built at first start (so a restart
# skips the build); logs as JSON lines for the collector.
ENV VIGIE_HOME=/var/lib/vigie \
    VIGIE_CACHE_DIR=/var/lib/vigie/cache \
    VIGIE_CONFIG=/srv/vigie/config/vigie.yaml \
    VIGIE_FEEDS_FILE=/srv/vigie/config/feeds.yaml \
    VIGIE_ALERTS_FILE=/srv/vigie/config/alerts.yaml \
    VIGIE_LOG_FORMAT=json
WORKDIR /var/lib/vigie
ENTRYPOINT ["vigie"]
CMD ["worker"]
