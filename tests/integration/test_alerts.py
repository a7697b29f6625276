"""Alerting end to end: real percolation on the local engine, a real worker, and a
real local webhook receiver that checks signatures; through both adapters."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import subprocess
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
import pytest

from pipeline.alerts.rules import AlertRule, parse_rule
from pipeline.alerts.store import RuleStore
from pipeline.search.clients import connect
from pipeline.search.documents import to_document
from pipeline.search.engine import SearchEngine
from pipeline.search.templates import rules_body
from tests.conftest import SAMPLE_FEED, make_article, raw_message
from tests.integration.conftest import Adapter, Stack, wait_for
from vigie.article import Article, Entity, Source, Tag
from vigie.settings import settings_for

pytestmark = pytest.mark.both_adapters

SECRET = "s3cret-for-tests"


class Receiver(BaseHTTPRequestHandler):
    calls: ClassVar[list[dict[str, Any]]] = []
    counts: ClassVar[dict[str, int]] = defaultdict(int)
    held: ClassVar[threading.Event] = threading.Event()
    holding: ClassVar[threading.Event] = threading.Event()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        path = self.path
        type(self).counts[path] += 1
        n = type(self).counts[path]
        timestamp = self.headers.get("X-Vigie-Timestamp", "")
        expected = (
            "sha256="
            + hmac.new(
                SECRET.encode(),
                f"{timestamp}.{self.headers.get('Idempotency-Key', '')}.".encode() + body,
                hashlib.sha256,
            ).hexdigest()
        )
        arrived = time.monotonic()
        if path == "/slow" and n == 1:
            type(self).held.set()
            time.sleep(8)
        if path == "/hold":
            type(self).holding.set()
            time.sleep(6)
        call = {
            "arrived": arrived,
            "path": path,
            "n": n,
            "key": self.headers.get("Idempotency-Key"),
            "signed": hmac.compare_digest(self.headers.get("X-Vigie-Signature", ""), expected),
            "fresh": abs(time.time() - int(timestamp or 0)) < 300,
            "body": json.loads(body),
        }
        type(self).calls.append(call)
        status = 200
        if path == "/flaky" and n <= 2:
            status = 503
        elif path == "/gone":
            status = 404
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass

    @classmethod
    def to(cls, path: str) -> list[dict[str, Any]]:
        return [c for c in cls.calls if c["path"] == path]


@pytest.fixture(scope="module")
def receiver(adapter: Adapter) -> Iterator[str]:
    # One receiver per adapter: each adapter's run counts its own calls.
    Receiver.calls.clear()
    Receiver.counts.clear()
    Receiver.held.clear()
    Receiver.holding.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def alerting(shared_stack: Stack) -> Stack:
    _start_worker(shared_stack)
    return shared_stack


def _start_worker(stack: Stack) -> subprocess.Popen[bytes]:
    """A worker with quick retries, once its rules API answers."""
    stack.env["VIGIE_DELIVERY_BACKOFF_SECONDS"] = "0.2"
    worker = stack.start_worker()
    wait_for("the worker's API", lambda: _api(stack, "get", "/rules").status_code == 200 or None)
    return worker


def _create(stack: Stack, rule: dict[str, Any]) -> None:
    created = _api(stack, "post", "/rules", json=rule)
    assert created.status_code == 201, created.text


def _api(stack: Stack, method: str, path: str, **kw: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {stack.env['VIGIE_API_TOKEN']}"}
    try:
        return httpx.request(method, stack.url(path), timeout=10, headers=headers, **kw)
    except httpx.HTTPError:
        return httpx.Response(599)


def _rule(receiver: str, rule_id: str, path: str, **query_and_options: Any) -> dict[str, Any]:
    options = {
        k: query_and_options.pop(k)
        for k in list(query_and_options)
        if k.endswith("_seconds") or k == "suppress_duplicates"
    }
    return {
        "id": rule_id,
        "name": rule_id.title(),
        "query": query_and_options,
        "destinations": [{"url": receiver + path, "secret": SECRET}],
        **options,
    }


def _at_least(n: int, found: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    return found if len(found) >= n else None


def _deliveries(stack: Stack, rule_id: str) -> list[dict[str, Any]]:
    engine = connect(stack.settings)
    try:
        engine.refresh(stack.settings.index_deliveries)
        result = engine.search(
            stack.settings.index_deliveries,
            {"query": {"term": {"rule_id": rule_id}}, "size": 100, "sort": [{"at": "asc"}]},
        )
    finally:
        engine.close()
    return [dict(hit.source) for hit in result.hits]


def test_a_malformed_rule_is_rejected_with_the_field(alerting: Stack, receiver: str) -> None:
    bad = {
        "id": "Bad Id",
        "query": {},
        "destinations": [{"url": "not a url"}],
        "throttle_seconds": -1,
    }
    response = _api(alerting, "post", "/rules", json=bad)
    assert response.status_code == 400
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"id", "query", "destinations.0.url", "throttle_seconds"} <= fields
    assert _api(alerting, "get", "/rules/bad-id").status_code == 404


def test_a_rule_created_through_the_api_fires_a_signed_webhook(
    alerting: Stack, receiver: str
) -> None:
    rule = _rule(receiver, "coree-russie", "/ok", all_tags=["Corée du Nord", "country:RU"])
    created = _api(alerting, "post", "/rules", json=rule)
    assert created.status_code == 201, created.text
    assert created.json()["destinations"][0]["secret"] == "********"
    assert _api(alerting, "post", "/rules", json=rule).status_code == 409
    listed = _api(alerting, "get", "/rules").json()["rules"]
    assert "coree-russie" in {r["id"] for r in listed}

    ingest = alerting.run("ingest", str(SAMPLE_FEED), "--feed-id", "vigie-sample")
    assert ingest.returncode == 0, ingest.stderr
    (call,) = wait_for("the webhook call", lambda: Receiver.to("/ok") or None, timeout=90)
    assert call["signed"]
    assert call["fresh"]
    assert call["key"]
    (alert,) = call["body"]["alerts"]
    assert call["body"]["rule"]["id"] == "coree-russie"
    assert alert["article"]["title"].startswith("Donald Trump veut")
    assert alert["article"]["language"] == "fr"
    assert {"Corée du Nord", "Russie"} <= {t["label"] for t in alert["article"]["tags"]}

    # The sample was published in 2025; the test endpoint looks a year back at most.
    too_far = _api(alerting, "post", "/rules/coree-russie/test", params={"days": "100000"})
    assert too_far.status_code == 400
    assert too_far.json()["errors"][0]["field"] == "days"
    recent = datetime.now(UTC) - timedelta(days=2)
    alerting.produce(
        alerting.settings.topic_raw,
        [
            raw_message(
                "https://x.example/pyongyang-moscou",
                "Pyongyang et Moscou signent un accord",
                "La Corée du Nord et la Russie ont signé un accord de défense.",
                published_at=recent,
            )
        ],
    )

    def tested() -> dict[str, Any] | None:
        answer = _api(alerting, "post", "/rules/coree-russie/test", params={"days": "7"})
        return answer.json() if answer.json().get("matches") else None

    found = wait_for("the rule's test to see the indexed article", tested)
    assert [hit["title"] for hit in found["latest"]] == ["Pyongyang et Moscou signent un accord"]


def test_a_receiver_failing_twice_gets_one_delivery_in_three_attempts(
    alerting: Stack, receiver: str
) -> None:
    _create(alerting, _rule(receiver, "flaky", "/flaky", text="Baltique"))
    alerting.produce(
        alerting.settings.topic_raw,
        [raw_message("https://x.example/baltique", "Baltique", "Des navires en mer Baltique.")],
    )
    wait_for("the third attempt", lambda: len(Receiver.to("/flaky")) >= 3 or None, timeout=90)
    attempts = wait_for(
        "three recorded attempts",
        lambda: _at_least(3, _deliveries(alerting, "flaky")),
    )
    assert [a["status"] for a in attempts] == ["retry", "retry", "delivered"]
    assert [a["http_status"] for a in attempts] == [503, 503, 200]
    assert len({a["delivery_id"] for a in attempts}) == 1
    assert len({c["key"] for c in Receiver.to("/flaky")}) == 1
    time.sleep(2)
    assert len(Receiver.to("/flaky")) == 3


def test_a_404_is_not_retried_and_goes_to_the_dlq(alerting: Stack, receiver: str) -> None:
    _create(alerting, _rule(receiver, "gone", "/gone", text="Groenland"))
    alerting.produce(
        alerting.settings.topic_raw,
        [raw_message("https://x.example/groenland", "Groenland", "Le Groenland et le Danemark.")],
    )
    letters = wait_for(
        "the dead letter",
        lambda: (
            [
                m
                for m in alerting.consume(alerting.settings.topic_dlq, 1, timeout=2)
                if m["stage"] == "deliver"
            ]
            or None
        ),
        timeout=90,
    )
    assert "HTTP 404, not retried" in letters[0]["reason"]
    assert len(Receiver.to("/gone")) == 1
    assert [a["status"] for a in _deliveries(alerting, "gone")] == ["failed"]


def test_throttle_window(alerting: Stack, receiver: str) -> None:
    rule = _rule(receiver, "throttled", "/throttle", text="Patagonie", throttle_seconds=3600)
    _create(alerting, rule)
    alerting.produce(
        alerting.settings.topic_raw,
        [
            raw_message(
                f"https://x.example/patagonie/{n}",
                f"Patagonie {n}",
                f"Un glacier de Patagonie, récit {n}.",
            )
            for n in range(2)
        ],
    )
    wait_for(
        "two decisions", lambda: len(_deliveries(alerting, "throttled")) >= 2 or None, timeout=90
    )
    assert len(Receiver.to("/throttle")) == 1
    assert sorted(a["status"] for a in _deliveries(alerting, "throttled")) == [
        "delivered",
        "throttled",
    ]


def test_digest_window(alerting: Stack, receiver: str) -> None:
    rule = _rule(receiver, "digest", "/digest", text="Tasmanie", digest_seconds=3)
    _create(alerting, rule)
    alerting.produce(
        alerting.settings.topic_raw,
        [
            raw_message(
                f"https://x.example/tasmanie/{n}",
                f"Tasmanie {n}",
                f"Une forêt de Tasmanie, sujet {n}.",
            )
            for n in range(3)
        ],
    )
    (call,) = wait_for("the digest", lambda: Receiver.to("/digest") or None, timeout=90)
    time.sleep(4)
    assert len(Receiver.to("/digest")) == 1
    assert len(call["body"]["alerts"]) == 3


WIRE = (
    "Le Kamtchatka a connu mardi une éruption volcanique majeure selon les autorités "
    "russes, qui ont évacué plusieurs villages et fermé l'aéroport régional pendant la nuit. "
    "Les scientifiques surveillent désormais les coulées de lave et les nuages de cendres qui "
    "menacent le trafic aérien dans tout le Pacifique Nord, tandis que les secours acheminent "
    "des vivres vers les zones isolées de la péninsule."
)


def test_a_near_duplicate_does_not_fire_again(alerting: Stack, receiver: str) -> None:
    _create(alerting, _rule(receiver, "volcan", "/volcan", text="Kamtchatka"))
    alerting.produce(
        alerting.settings.topic_raw,
        [raw_message("https://wire.example/kamtchatka", "Éruption", WIRE)],
    )
    wait_for("the first call", lambda: Receiver.to("/volcan") or None, timeout=90)
    alerting.produce(
        alerting.settings.topic_raw,
        [
            raw_message(
                "https://outlet.example/kamtchatka",
                "Éruption au Kamtchatka",
                f"(AFP) {WIRE} Avec Reuters.",
            )
        ],
    )
    wait_for("two decisions", lambda: len(_deliveries(alerting, "volcan")) >= 2 or None, timeout=90)
    assert len(Receiver.to("/volcan")) == 1
    assert sorted(a["status"] for a in _deliveries(alerting, "volcan")) == [
        "delivered",
        "suppressed",
    ]


@pytest.mark.opensearch_only(
    reason="acknowledgements in Kafka; its engine calls are those of the tests above, 37 s"
)
def test_a_restart_in_the_middle_of_a_delivery_sends_it_again_with_the_same_key(
    stack: Stack, receiver: str
) -> None:
    # The receiver holds the first call while the worker is stopped: the alert was
    # not acknowledged, so the next worker sends it again under the same key and
    # the receiver can drop the repeat. It must not be sent a third time.
    first = _start_worker(stack)
    rule = _rule(receiver, "restart", "/slow", all_tags=["Corée du Nord"])
    _create(stack, rule)
    assert stack.run("ingest", str(SAMPLE_FEED), "--feed-id", "vigie-sample").returncode == 0
    assert Receiver.held.wait(90), "the first webhook call never came"
    first.send_signal(signal.SIGTERM)
    first.wait(timeout=60)
    time.sleep(2)
    stack.start_worker()
    calls = wait_for("the call sent again", lambda: _at_least(2, Receiver.to("/slow")), timeout=90)
    assert calls[0]["key"] == calls[1]["key"]
    assert all(c["signed"] for c in calls)
    time.sleep(5)
    assert len(Receiver.to("/slow")) == 2


@pytest.mark.opensearch_only(
    reason="the deliver stage's concurrency; its engine calls are those of the tests above, 25 s"
)
def test_a_slow_receiver_does_not_hold_up_the_other_rules(stack: Stack, receiver: str) -> None:
    # One partition, so both rules' alerts are in one queue: the second must not
    # wait for the first receiver's six seconds.
    stack.env["VIGIE_TOPIC_PARTITIONS"] = "1"
    stack.settings = settings_for(stack.env)
    _start_worker(stack)
    for rule in (
        _rule(receiver, "held", "/hold", text="Spitzberg"),
        _rule(receiver, "quick", "/quick", text="Zanzibar"),
    ):
        _create(stack, rule)
    stack.produce(
        stack.settings.topic_raw,
        [raw_message("https://x.example/spitzberg", "Spitzberg", "Le Spitzberg fond.")],
    )
    assert Receiver.holding.wait(90), "the held call never came"
    stack.produce(
        stack.settings.topic_raw,
        [raw_message("https://x.example/zanzibar", "Zanzibar", "Zanzibar vote.")],
    )
    (held,) = wait_for("the held call", lambda: Receiver.to("/hold") or None, timeout=90)
    (quick,) = wait_for("the quick call", lambda: Receiver.to("/quick") or None, timeout=90)
    assert quick["arrived"] < held["arrived"] + 6


# The prefilter on the real engine: the same matches as the request before it
# (every field of every article, against every enabled rule), through both
# adapters, for rules stored with and without the prefilter values.


@pytest.fixture
def rules_index(adapter: Adapter) -> Iterator[tuple[SearchEngine, str]]:
    settings = adapter.settings(index_alert_rules=f"test-{uuid.uuid4().hex[:10]}-alert-rules")
    engine = connect(settings)
    engine.create_index(settings.index_alert_rules, rules_body(settings.config_dir))
    yield engine, settings.index_alert_rules
    engine.delete_index(settings.index_alert_rules)
    engine.close()


def _before(engine: SearchEngine, index: str, articles: list[Article]) -> set[tuple[str, str]]:
    """What RuleStore.match answered before the prefilter, with the same request."""
    result = engine.search(
        index,
        {
            "size": 10_000,
            "query": {
                "bool": {
                    "must": {
                        "percolate": {
                            "field": "query",
                            "documents": [to_document(a) for a in articles],
                        }
                    },
                    "filter": {"term": {"rule_enabled": True}},
                }
            },
            "_source": ["rule_id"],
        },
    )
    return {
        (str(hit.source["rule_id"]), articles[slot].id)
        for hit in result.hits
        for slot in hit.fields.get("_percolator_document_slot", [0])
    }


def _person(entity_id: str | None, name: str) -> Entity:
    return Entity(
        type="PER", id=entity_id, name=name, text=name, start=0, end=len(name), source="rules"
    )


def test_prefiltered_matching_finds_what_matching_found_before(
    rules_index: tuple[SearchEngine, str],
) -> None:
    engine, index = rules_index
    kp = Tag(id="country:KP", label="Corée du Nord", kind="country")
    ru = Tag(id="country:RU", label="Russie", kind="country")
    kim = _person("person:kim-jong-un", "Kim Jong-un")
    lemonde = Source(feed_id="lemonde", name="Le Monde")
    queries: dict[str, dict[str, Any]] = {
        "fr": {"languages": ["fr"]},
        "fr-en-text": {"text": "missile", "languages": ["fr", "en"]},
        "kp-by-label": {"any_tags": ["Corée du Nord"]},
        "kp-and-ru": {"all_tags": ["country:KP", "Russie"]},
        "kim": {"entities": ["person:kim-jong-un"]},
        "kim-by-name": {"entities": ["Kim Jong-un"], "languages": ["en"]},
        "lemonde": {"sources": ["Le Monde"]},
        "stemmed": {"text": "négociation"},
        "keywords": {"keywords": ["ICBM", "essai nucléaire"]},
        "nothing": {"languages": ["ja"], "all_tags": ["country:JP"]},
    }
    store = RuleStore(engine, index)
    for rule_id, query in queries.items():
        store.put(_bare_rule(rule_id, query), wait=False)
    # As a Vigie before the prefilter stored it: no prefilter values.
    old = _bare_rule("old-kp-fr", {"all_tags": ["country:KP"], "languages": ["fr"]})
    engine.put_document(
        index,
        old.id,
        {
            "query": old.query.article_query().to_query(),
            "rule_id": old.id,
            "rule_enabled": True,
            "rule_owner": "api",
            "rule": old.stored(),
        },
    )
    store.refresh()
    articles = [
        make_article(
            "https://x.example/1",
            "Pyongyang tire un missile",
            "Un essai nucléaire, dit la Corée du Nord.",
            language="fr",
            tags=(kp,),
            source=lemonde,
        ),
        make_article(
            "https://x.example/2",
            "Kim meets Putin",
            "An ICBM test.",
            language="en",
            tags=(kp, ru),
            entities=(kim,),
        ),
        make_article("https://x.example/3", "Les négociations reprennent", language="fr"),
        make_article("https://x.example/4", "Sin etiquetas", "Nada.", language="es"),
        make_article("https://x.example/5", "Kim Jong-un", tags=(ru,), entities=(kim,)),
    ]
    before = _before(engine, index, articles)
    expected = {
        ("fr", "1"), ("fr", "3"), ("fr-en-text", "1"), ("kp-by-label", "1"),
        ("kp-by-label", "2"), ("kp-and-ru", "2"), ("kim", "2"), ("kim", "5"),
        ("kim-by-name", "2"), ("lemonde", "1"), ("stemmed", "3"), ("keywords", "1"),
        ("keywords", "2"), ("old-kp-fr", "1"),
    }  # fmt: skip
    number = {a.id: a.url.rsplit("/", 1)[1] for a in articles if a.url}
    assert {(rule, number[article]) for rule, article in before} == expected
    for size in (1, 2, len(articles)):
        matched = RuleStore(engine, index, batch_size=size).match(articles)
        assert sorted((m.rule.id, m.article.id) for m in matched) == sorted(before), size
    # Alone, each article is matched as in the batch (the filter follows the batch).
    for article in articles:
        alone = {(m.rule.id, m.article.id) for m in store.match([article])}
        assert alone == {pair for pair in before if pair[1] == article.id}


def _bare_rule(rule_id: str, query: dict[str, Any]) -> AlertRule:
    return parse_rule(
        {"id": rule_id, "query": query, "destinations": [{"url": "http://127.0.0.1:9/x"}]}
    )
