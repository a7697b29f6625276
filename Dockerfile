# The Vigie connector and worker image used by docker-compose.yml.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY vigie ./vigie
COPY connectors ./connectors
COPY pipeline ./pipeline
COPY commands ./commands
COPY config ./config
COPY samples ./samples
RUN pip install --no-cache-dir -e .
ENTRYPOINT ["vigie"]
CMD ["worker"]
