"""Local Kafka and search engine for machines without Docker (development, tests,
benchmarks): the Maven poms beside this file, and `local.py`, which fetches,
starts and stops them."""
