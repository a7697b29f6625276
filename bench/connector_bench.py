"""The connector against 1,000 feeds served locally, beside a naive sequential loop
(httpx.get, feedparser.parse, one producer.send per entry) in the same run.

The feeds are the 40 real-world feeds of ../shared/realfeeds (read from there,
not copied), each served under 25 URLs spread over 100 local host addresses;
every URL in a copy gets its own host prefix, so the 1,000 feeds carry distinct
articles. The server runs in its own process on the other core; each client runs
in its own process pinned to one core, so peak memory is its own. Articles go to
a private topic of the real Kafka: `vigie services up` first.

    .venv/bin/python -m bench.connector_bench [--feeds 1000] [--hosts 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from multiprocessing import Process
from pathlib import Path
from typing import Any

REALFEEDS = Path(__file__).resolve().parents[2] / "shared" / "realfeeds"


def _bodies() -> list[bytes]:
    files = sorted(REALFEEDS.glob("*.xml"))
    if not files:
        sys.exit(f"no feeds in {REALFEEDS}")
    return [f.read_bytes() for f in files]


def _serve(port: int, hosts: int, ready: Any) -> None:
    from aiohttp import web

    os.sched_setaffinity(0, {1})
    bodies = _bodies()
    cache: dict[int, bytes] = {}

    def body(n: int) -> bytes:
        if n not in cache:
            raw = bodies[n % len(bodies)]
            cache[n] = raw.replace(b"https://", b"https://f%d." % n).replace(
                b"http://", b"http://f%d." % n
            )
        return cache[n]

    async def feed(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        etag = f'"{n}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body(n), headers={"ETag": etag, "Content-Type": "application/xml"})

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/feed/{n}", feed)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        for h in range(1, hosts + 1):
            await web.TCPSite(runner, f"127.0.0.{h}", port).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


def _urls(port: int, feeds: int, hosts: int) -> list[str]:
    return [f"http://127.0.0.{1 + n % hosts}:{port}/feed/{n}" for n in range(feeds)]


def _client(mode: str, urls: list[str], env: dict[str, str]) -> dict[str, Any]:
    os.sched_setaffinity(0, {0})
    os.environ.update(env)
    return _vigie(urls) if mode == "vigie" else _naive(urls)


def _vigie(urls: list[str]) -> dict[str, Any]:
    import tempfile

    from connectors.feedlist import FeedConfig
    from connectors.service import Connector
    from connectors.state import State
    from vigie import logs
    from vigie.settings import Settings

    logs.configure("WARNING")
    settings = Settings(
        connector_state=Path(tempfile.mkdtemp()) / "state.sqlite3",
        fetch_host_interval_seconds=0.05,
        fetch_concurrency=64,
    )
    # The benchmark's feed servers are local: opted in.
    feeds = [FeedConfig(id=f"f{n}", url=url, allow_private=True) for n, url in enumerate(urls)]
    figures = {}
    for run in ("cold", "warm"):
        state = State(settings.connector_state)
        connector = Connector(settings, feeds, state)
        started = time.perf_counter()
        outcomes = asyncio.run(connector.run_once())
        produced = connector.send_outbox()
        connector.close()
        wall = time.perf_counter() - started
        figures[run] = {
            "seconds": wall,
            "entries": produced,
            "errors": sum(o.result == "error" for o in outcomes),
            "stages": dict(connector.stage_seconds),
        }
        state.close()
    return {"runs": figures, "peak_rss_mb": _peak_mb()}


def _naive(urls: list[str]) -> dict[str, Any]:
    import feedparser
    import httpx

    from connectors.produce import make_producer
    from vigie.settings import Settings

    settings = Settings()
    producer = make_producer(settings.kafka_options())
    stages = {"fetch": 0.0, "parse": 0.0, "produce": 0.0}
    entries = errors = 0
    started = time.perf_counter()
    for url in urls:
        t = time.perf_counter()
        try:
            response = httpx.get(url, timeout=20)
        except httpx.HTTPError:
            errors += 1
            continue
        stages["fetch"] += time.perf_counter() - t
        t = time.perf_counter()
        parsed = feedparser.parse(response.content)
        stages["parse"] += time.perf_counter() - t
        if parsed.get("bozo") and not parsed.entries:
            errors += 1
        t = time.perf_counter()
        for entry in parsed.entries:
            value = json.dumps({k: str(entry.get(k, "")) for k in ("link", "title", "summary")})
            producer.send(
                settings.topic_raw, key=str(entry.get("link")).encode(), value=value.encode()
            )
            entries += 1
        producer.flush()
        stages["produce"] += time.perf_counter() - t
    producer.close()
    wall = time.perf_counter() - started
    return {
        "runs": {"cold": {"seconds": wall, "entries": entries, "errors": errors, "stages": stages}},
        "peak_rss_mb": _peak_mb(),
    }


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run_client(mode: str, port: int, feeds: int, hosts: int) -> dict[str, Any]:
    from vigie.settings import private_environment

    env = {**private_environment("bench"), "VIGIE_LOG_LEVEL": "WARNING"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.connector_bench",
            "--client",
            mode,
            "--port",
            str(port),
            "--feeds",
            str(feeds),
            "--hosts",
            str(hosts),
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"{mode} client failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _row(name: str, run: dict[str, Any], feeds: int, peak: float) -> str:
    # Parse is the CPU time of parsing (the connector parses in a thread), produce
    # the wall time of sending; fetching is the rest (many fetches overlap).
    wall = run["seconds"]
    parse, produce = run["stages"]["parse"], run["stages"]["produce"]
    shares = [max(0.0, wall - parse - produce), parse, produce]
    shown = " / ".join(f"{100 * s / wall:3.0f}%" for s in shares)
    return (
        f"{name:<26} {wall:7.1f} {feeds / wall:8.1f} "
        f"{run['entries'] / wall:9.0f} {run['entries']:8d} {run['errors']:6d} "
        f"{peak:8.0f}   {shown}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--client", choices=["vigie", "naive"])
    args = parser.parse_args()
    if args.client:
        result = _client(args.client, _urls(args.port, args.feeds, args.hosts), {})
        print(json.dumps(result))
        return

    from multiprocessing import Event

    from vigie.settings import private_environment

    port = int(private_environment("bench")["VIGIE_WEB_PORT"])
    ready = Event()
    server = Process(target=_serve, args=(port, args.hosts, ready), daemon=True)
    server.start()
    if not ready.wait(30):
        sys.exit("the feed server did not start")
    try:
        vigie = _run_client("vigie", port, args.feeds, args.hosts)
        naive = _run_client("naive", port, args.feeds, args.hosts)
    finally:
        server.terminate()
    print(
        f"{args.feeds} feeds ({len(_bodies())} real feeds x {args.feeds // len(_bodies())}), "
        f"{args.hosts} local hosts; client on one core, server on the other"
    )
    print(
        f"{'':<26} {'seconds':>7} {'feeds/s':>8} {'entries/s':>9} {'entries':>8} {'errors':>6} "
        f"{'peak MB':>8}   fetch / parse / produce"
    )
    print(_row("vigie connector, cold", vigie["runs"]["cold"], args.feeds, vigie["peak_rss_mb"]))
    print(_row("vigie connector, warm", vigie["runs"]["warm"], args.feeds, vigie["peak_rss_mb"]))
    print(_row("naive sequential loop", naive["runs"]["cold"], args.feeds, naive["peak_rss_mb"]))
    print(
        "cold: every feed new; warm: the same feeds again (304s, nothing produced).\n"
        "Shares are of wall time: parse (CPU) and produce measured, fetch the rest (waiting on\n"
        "the network and the event loop). The connector is polite (2 requests per host at once,\n"
        "50 ms apart) and keeps state; the naive loop does neither. The connector's parse\n"
        "includes normalising to the article schema and the seen/changed check."
    )


if __name__ == "__main__":
    main()
