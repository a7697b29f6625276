"""Webhook delivery: payloads, signatures, retries, and a record of every attempt.

A receiver verifies `X-Vigie-Signature: sha256=<hex>`, the HMAC-SHA256 with the
destination's secret of `<X-Vigie-Timestamp>.<Idempotency-Key>.<raw body>`, and
rejects timestamps too far from its clock (replays). `Idempotency-Key` is the same for every
attempt of one delivery: a receiver that keeps the keys it has seen never acts
twice, even when Vigie, stopped between the receiver's 200 and its own record,
sends again after a restart.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from prometheus_client import Counter, Histogram
from pydantic import BaseModel, ConfigDict

from pipeline.alerts.rules import AlertRule, Destination
from vigie.article import Article
from vigie.outbound import masked
from vigie.retry import Backoff, retry_after

CALLS = Counter(
    "vigie_webhook_calls_total", "Webhook calls by rule and outcome", ["rule", "outcome"]
)
CALL_SECONDS = Histogram("vigie_webhook_call_seconds", "Time of one webhook call")
RETRY_STATUSES = frozenset({408, 429})
RESPONSE_BYTES = 64 * 1024


class AlertMessage(BaseModel):
    """One match of a rule on an article, as it travels on news.alerts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alert_id: str
    rule_id: str
    article: dict[str, Any]
    matched_at: datetime
    # Rules that fire once per story: the story as it stands (articles, languages,
    # sources) and why this alert went out (`first`, `new_language`, `sources`).
    story: dict[str, Any] | None = None
    # Spike and silence rules (pipeline/signals/watch.py): the condition, `status`
    # firing or resolved, its figures, and for a spike the articles that made it.
    signal: dict[str, Any] | None = None

    @classmethod
    def of(cls, rule: AlertRule, article: Article) -> AlertMessage:
        return cls(
            alert_id=alert_id(rule.id, article.id),
            rule_id=rule.id,
            article=article_summary(article),
            matched_at=datetime.now(UTC),
        )


def alert_id(rule_id: str, article_id: str) -> str:
    return hashlib.sha256(f"{rule_id}\n{article_id}".encode()).hexdigest()[:32]


def article_summary(article: Article) -> dict[str, Any]:
    return {
        "id": article.id,
        "title": article.title,
        # A link-less entry's url is its feed's site, or None (vigie/article.py).
        "url": article.canonical_url or article.url,
        "language": article.language,
        "published_at": article.published_at.isoformat() if article.published_at else None,
        "source": article.source.name or article.source.feed_id,
        "tags": [{"id": t.id, "label": t.label, "kind": t.kind} for t in article.tags],
        "entities": sorted({e.name for e in article.entities if e.type != "MISC"}),
        "duplicate_of": article.duplicate_of,
        "story_id": article.story_id,
    }


def payload(rule: AlertRule, destination: Destination, alerts: Sequence[AlertMessage]) -> bytes:
    articles = [a.article for a in alerts]
    if destination.format == "slack":
        # Slack reads <...> as links and mentions: a feed's title must not make one.
        lines = [f"*Vigie — {_slack(rule.name or rule.id)}*: {len(articles)} article(s)"]
        for alert in alerts:
            if alert.signal is not None:
                figures = ", ".join(
                    f"{k}: {v}" for k, v in alert.signal.items() if k not in ("articles",)
                )
                lines.append(_slack(figures))
        for a in articles:
            if not a:
                continue
            tags = _slack(", ".join(t["label"] for t in a["tags"][:6]))
            title = _slack(a["title"] or a["url"] or a["id"])
            shown = f"<{_slack(a['url'])}|{title}>" if a["url"] else title
            lines.append(f"• {shown} ({a['language']}) {tags}")
        for alert in alerts:
            if alert.story is not None:
                story = alert.story
                lines.append(
                    f"  story: {story.get('articles', 1)} article(s), "
                    f"{_slack(', '.join(story.get('languages', [])))}; "
                    f"{_slack(', '.join(story.get('reasons', [])))}"
                )
        body: dict[str, Any] = {"text": "\n".join(lines)}
    else:
        body = {
            "rule": {"id": rule.id, "name": rule.name},
            "alerts": [
                {
                    "alert_id": a.alert_id,
                    "matched_at": a.matched_at.isoformat(),
                    "article": a.article,
                    **({"story": a.story} if a.story is not None else {}),
                    **({"signal": a.signal} if a.signal is not None else {}),
                }
                for a in alerts
            ],
            "sent_at": datetime.now(UTC).isoformat(),
        }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _slack(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def signature(secret: str, timestamp: str, key: str, body: bytes) -> str:
    """HMAC-SHA256 of `<timestamp>.<idempotency key>.<body>`: a receiver that trusts
    the key to drop repeats must know it came from Vigie too."""
    signed = f"{timestamp}.{key}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


Record = Callable[[dict[str, Any]], Awaitable[None]]


async def deliver(
    client: httpx.AsyncClient,
    rule: AlertRule,
    destination: Destination,
    alerts: Sequence[AlertMessage],
    record: Record,
    max_attempts: int,
    backoff: Backoff,
    timeout: float,
) -> str | None:
    """POST the alerts to one destination, retrying what may pass later. None when
    delivered, else why it failed for good. Every attempt goes to `record`, with
    the destination masked (a webhook URL is a credential). `client` must be
    guarded (vigie/outbound.py); `timeout` bounds each whole attempt."""
    body = payload(rule, destination, alerts)
    key = (
        alerts[0].alert_id
        if len(alerts) == 1
        else alert_id(rule.id, ",".join(a.alert_id for a in alerts))
    )
    base = {
        "delivery_id": key,
        "rule_id": rule.id,
        "destination": masked(str(destination.url)),
        "article_ids": [a.article["id"] for a in alerts if a.article],
    }
    for attempt in range(1, max_attempts + 1):
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Vigie/0.1 (alerts)",
            "Idempotency-Key": key,
            "X-Vigie-Timestamp": timestamp,
        }
        if destination.secret:
            headers["X-Vigie-Signature"] = signature(
                destination.secret.get_secret_value(), timestamp, key, body
            )
        started = time.monotonic()
        wait: float | None = None
        try:
            async with asyncio.timeout(timeout):
                status, wait = await _post(client, str(destination.url), body, headers)
            error = None if 200 <= status < 300 else f"HTTP {status}"
            retryable = status in RETRY_STATUSES or status >= 500
        except TimeoutError:
            status, error, retryable = None, f"timeout: no answer in {timeout:g}s", True
        except httpx.TimeoutException as exc:
            status, error, retryable = None, f"timeout: {exc.__class__.__name__}", True
        except httpx.TransportError as exc:
            # The guard's refusal will not pass later; the rest may.
            reason = str(exc) or type(exc).__name__
            status, error = None, f"connection: {reason}"
            retryable = not reason.startswith("refused:")
        elapsed = time.monotonic() - started
        latency = round(elapsed * 1000, 1)
        CALL_SECONDS.observe(elapsed)
        outcome = (
            "delivered"
            if error is None
            else "retry"
            if retryable and attempt < max_attempts
            else "failed"
        )
        CALLS.labels(rule=rule.id, outcome=outcome).inc()
        await record(
            {
                **base,
                "attempt": attempt,
                "status": outcome,
                "http_status": status,
                "error": error,
                "latency_ms": latency,
            }
        )
        if error is None:
            return None
        if not retryable:
            return f"{error}, not retried"
        if attempt == max_attempts:
            return f"{error} after {attempt} attempts"
        await asyncio.sleep(backoff.delay(attempt, wait))
    return "no attempt made"


async def _post(
    client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]
) -> tuple[int, float | None]:
    """The receiver's status and Retry-After. At most RESPONSE_BYTES of its body are
    read (for the connection's sake): a receiver cannot make Vigie hold gigabytes."""
    async with client.stream("POST", url, content=body, headers=headers) as response:
        read = 0
        async for chunk in response.aiter_raw():
            read += len(chunk)
            if read >= RESPONSE_BYTES:
                break
        return response.status_code, retry_after(response.headers.get("Retry-After"))
