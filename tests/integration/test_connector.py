"""The connector service against the real Kafka and a real local HTTP server:
restarts produce no duplicates, a changed entry exactly one update, and a broker
that is down loses nothing."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import raw_message
from tests.feedserver import Served, feed_server
from tests.integration.conftest import Stack, wait_for


@pytest.fixture
def served() -> Iterator[Served]:
    with feed_server() as s:
        yield s


def _connector_env(stack: Stack, served: Served, tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.yaml"
    # The feed server is on 127.0.0.1: each feed opts in.
    local = "    allow_private: true\n"
    feeds.write_text(
        "feeds:\n"
        f"  - id: quotidien\n    url: {served('/feeds/rss2.xml')}\n    language: fr\n{local}"
        f"  - id: wire\n    url: {served('/plain/atom.xml')}\n{local}"
        f"  - id: broken\n    url: {served('/status/500')}\n{local}"
    )
    stack.env.update(
        {
            "VIGIE_FEEDS_FILE": str(feeds),
            "VIGIE_FETCH_HOST_INTERVAL_SECONDS": "0",
            # poll every second, so a test sees many polls
            "VIGIE_POLL_MIN_SECONDS": "0.5",
            "VIGIE_POLL_MAX_SECONDS": "1",
        }
    )


def _raw(stack: Stack, at_least: int, timeout: float = 5) -> list[dict[str, Any]]:
    return stack.consume(stack.settings.topic_raw, at_least, timeout=timeout)


def _polls(served: Served) -> int:
    return len(served.requests["/feeds/rss2.xml"])


def _metrics(stack: Stack) -> str | None:
    port = stack.env["VIGIE_CONNECTOR_WEB_PORT"]
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return None


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def test_restart_sends_nothing_twice_and_a_change_exactly_once(
    stack: Stack, served: Served, tmp_path: Path
) -> None:
    _connector_env(stack, served, tmp_path)
    first = stack.start("connector", "run")
    wait_for("the four entries", lambda: _raw(stack, 4) if len(_raw(stack, 4)) >= 4 else None)
    start = _polls(served)
    wait_for("more polls", lambda: _polls(served) >= start + 3 or None)
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=60) == 0, stack.worker_log(0)[-2000:]
    assert '"connector_stopped"' in stack.worker_log(0)

    second = stack.start("connector", "run")
    start = _polls(served)
    wait_for("polls after the restart", lambda: _polls(served) >= start + 3 or None)
    assert len(_raw(stack, 5, timeout=3)) == 4  # nothing produced twice

    served.bodies["rss2.xml"] = served.body("rss2.xml").replace(
        "Le marché ouvre ses portes.".encode(), "Le marché ferme ses portes.".encode()
    )
    wait_for("the update", lambda: _raw(stack, 5) if len(_raw(stack, 5)) >= 5 else None)
    start = _polls(served)
    wait_for("polls after the update", lambda: _polls(served) >= start + 3 or None)
    messages = _raw(stack, 6, timeout=3)
    per_id = Counter(m["id"] for m in messages)
    assert len(messages) == 5
    assert sorted(per_id.values()) == [1, 1, 1, 2]
    (changed,) = [i for i, n in per_id.items() if n == 2]
    versions = [m["summary"] for m in messages if m["id"] == changed]
    assert "ouvre" in versions[0]
    assert "ferme" in versions[1]

    metrics = wait_for("the connector's metrics", lambda: _metrics(stack))
    assert _metric(metrics, 'vigie_connector_entries_total{kind="updated"}') == 1
    assert _metric(metrics, 'vigie_connector_entries_total{kind="new"}') == 0
    assert _metric(metrics, 'vigie_connector_polls_total{result="not_modified"}') >= 2
    assert _metric(metrics, 'vigie_connector_errors_total{kind="http"}') >= 1
    port = stack.env["VIGIE_CONNECTOR_WEB_PORT"]
    health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json()
    assert health["kafka"] == "ok"
    assert health["outbox"] == 0
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=60) == 0


def test_kafka_down_keeps_the_articles_until_it_is_back(
    stack: Stack, served: Served, tmp_path: Path
) -> None:
    _connector_env(stack, served, tmp_path)
    down = stack.run("connector", "run", "--once", env={"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9"})
    assert down.returncode == 1
    assert "4 articles kept for the next run" in down.stderr
    again = stack.run("connector", "run", "--once")
    # The broken feed fails again: the run says so in its exit code, after sending.
    assert again.returncode == 1, again.stderr
    assert "1 feeds failed" in again.stderr
    # the feeds did not change (304 / same body): what goes out is what was kept
    assert "0 new, 0 updated, 1 failed" in again.stdout
    assert "4 articles produced" in again.stdout
    assert len(_raw(stack, 5, timeout=3)) == 4


def test_an_article_kafka_refuses_does_not_hold_up_the_others(
    stack: Stack, served: Served, tmp_path: Path
) -> None:
    from connectors.service import Connector
    from connectors.state import State
    from vigie.settings import settings_for

    _connector_env(stack, served, tmp_path)
    settings = settings_for(stack.env)
    state = State(settings.connector_state)
    connector = Connector(settings, [], state)
    articles = [raw_message(f"https://big.example/{n}", f"n{n}", "texte") for n in range(3)]
    huge = raw_message("https://big.example/huge", "huge", "x" * 1_500_000)
    rows = [(f"id{n}", payload) for n, payload in enumerate([articles[0], huge, *articles[1:]])]
    with state._transaction():
        for article_id, payload in rows:
            state._db.execute(
                "INSERT INTO outbox (article_id, payload) VALUES (?, ?)", (article_id, payload)
            )
    try:
        assert connector.send_outbox() == 3
    finally:
        connector.close()
    assert state.outbox_size() == 0
    titles = sorted(m["title"] for m in _raw(stack, 4, timeout=3))
    assert titles == ["n0", "n1", "n2"]
    (letter,) = stack.consume(settings.topic_dlq, 1, timeout=10)
    assert letter["stage"] == "connector"
    assert letter["reason"].startswith("article id1 (")
    assert "MessageSizeTooLarge" in letter["reason"]
    state.close()


def test_kafka_down_is_a_few_log_lines_and_a_503_not_a_storm(
    stack: Stack, served: Served, tmp_path: Path
) -> None:
    """A broker that is down used to make the Kafka client log every reconnect
    (thousands of lines a second) while /health still said "ok"."""
    _connector_env(stack, served, tmp_path)
    stack.env["KAFKA_BOOTSTRAP_SERVERS"] = "127.0.0.1:9"  # nothing listens there
    port = stack.env["VIGIE_CONNECTOR_WEB_PORT"]

    def unavailable() -> dict[str, Any] | None:
        try:
            answer = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
        except httpx.HTTPError:
            return None
        health = dict(answer.json())
        # Down, and the feed's entries kept for later (a busy machine can say the
        # first before it has polled the feed).
        return health if answer.status_code == 503 and health["outbox"] >= 4 else None

    connector = stack.start("connector", "run")
    health = wait_for(
        "/health to say Kafka is down, with the entries kept", unavailable, timeout=30
    )
    assert health["kafka"] == "down"
    time.sleep(10)  # let an outage last: it must stay a few lines
    connector.send_signal(signal.SIGTERM)
    assert connector.wait(timeout=60) == 0
    # This test polls its feeds every half second; the rest is what Kafka costs.
    lines = [
        line
        for line in stack.worker_log(0).splitlines()
        if '"feed_polled"' not in line and '"feed_failed"' not in line
    ]
    assert sum('"kafka_unavailable"' in line for line in lines) == 1
    assert len(lines) < 10, "\n".join(lines[:40])
