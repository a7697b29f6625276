"""The connector against 1,000 feeds served locally: this checkout's connector beside
another checkout's (the old code, by default ../main) in the same run, so a busy
machine slows both alike; optionally the naive sequential loop (httpx.get,
feedparser.parse, one producer.send per entry) too.

The feeds are the 40 real-world feeds of ../shared/realfeeds (read from there,
not copied), each served under 25 URLs spread over 100 local host addresses;
every URL in a copy gets its own host prefix, so the 1,000 feeds carry distinct
articles. The server runs in its own process pinned to the last core; each client
runs in its own process on the others' cores and the server's (a connector uses
what it finds: its parse processes, VIGIE_PARSE_WORKERS, one per core less one).
A first poll fills the outbox; `--produce` also sends it to a private topic of the
real Kafka (`vigie services up` first), as the naive loop (`--naive`) must.

    .venv/bin/python bench/connector_bench.py [--feeds 1000] [--old ../main] [--produce]
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
HERE = Path(__file__).resolve().parents[1]


def _bodies() -> list[bytes]:
    files = sorted(REALFEEDS.glob("*.xml"))
    if not files:
        sys.exit(f"no feeds in {REALFEEDS}")
    return [f.read_bytes() for f in files]


def _server_core() -> int:
    return max(os.sched_getaffinity(0))


def _serve(port: int, hosts: int, ready: Any) -> None:
    from aiohttp import web

    os.sched_setaffinity(0, {_server_core()})
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


def _client(mode: str, urls: list[str], options: dict[str, Any]) -> dict[str, Any]:
    # Not pinned: a connector's parse processes use the cores it finds, the
    # server's included (on two cores, the only one a pool can have).
    return _vigie(urls, options) if mode == "vigie" else _naive(urls)


def _vigie(urls: list[str], options: dict[str, Any]) -> dict[str, Any]:
    import tempfile

    from connectors.feedlist import FeedConfig
    from connectors.service import Connector
    from connectors.state import State
    from vigie import logs
    from vigie.settings import Settings

    logs.configure("WARNING")
    chosen = {"parse_workers": options["workers"]} if options.get("workers") is not None else {}
    settings = Settings(
        connector_state=Path(tempfile.mkdtemp()) / "state.sqlite3",
        fetch_host_interval_seconds=0.05,
        fetch_concurrency=64,
        **chosen,
    )
    # The benchmark's feed servers are local: opted in.
    feeds = [FeedConfig(id=f"f{n}", url=url, allow_private=True) for n, url in enumerate(urls)]
    figures = {}
    for run in ("cold", "warm"):
        state = State(settings.connector_state)
        connector = Connector(settings, feeds, state)
        waiting = state.outbox_size()
        started = time.perf_counter()
        outcomes = asyncio.run(connector.run_once())
        polled = time.perf_counter() - started
        entries = state.outbox_size() - waiting
        produced = connector.send_outbox() if options.get("produce") else 0
        connector.close()
        figures[run] = {
            "poll": polled,
            "seconds": time.perf_counter() - started,
            "entries": entries,
            "produced": produced,
            "errors": sum(o.result == "error" for o in outcomes),
            "stages": dict(connector.stage_seconds),
        }
        state.close()
    # Parse processes are children: their peak is their own.
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"runs": figures, "peak_rss_mb": _peak_mb(), "children_peak_mb": children}


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
        "runs": {
            "cold": {
                "poll": wall,
                "seconds": wall,
                "entries": entries,
                "produced": entries,
                "errors": errors,
                "stages": stages,
            }
        },
        "peak_rss_mb": _peak_mb(),
        "children_peak_mb": 0.0,
    }


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run_client(
    mode: str, checkout: Path, port: int, args: argparse.Namespace, workers: int | None = None
) -> dict[str, Any]:
    """One client in a process of its own, with `checkout`'s code (this file is run
    from here; `connectors` and `vigie` are imported from there)."""
    from vigie.settings import private_environment

    env = {**private_environment("bench"), "VIGIE_LOG_LEVEL": "WARNING"}
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        *("--client", mode, "--port", str(port), "--feeds", str(args.feeds)),
        *("--hosts", str(args.hosts)),
        *(["--produce"] if args.produce else []),
        *(["--workers", str(workers)] if workers is not None else []),
    ]
    done = subprocess.run(
        command,
        env={**os.environ, **env, "PYTHONPATH": str(checkout)},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"{mode} client ({checkout}) failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _row(name: str, result: dict[str, Any], run: str, feeds: int) -> str:
    # Parse is the CPU time of parsing (in a thread or in processes: it can exceed
    # the wall time), produce the wall time of sending; fetching is the rest.
    figures = result["runs"][run]
    wall, poll = figures["seconds"], figures["poll"]
    parse, produce = figures["stages"]["parse"], figures["stages"]["produce"]
    return (
        f"{name:<34} {poll:7.1f} {wall:7.1f} {feeds / poll:8.1f} {figures['entries']:8d} "
        f"{figures['errors']:6d} {parse:9.1f} {produce:8.1f} "
        f"{result['peak_rss_mb']:5.0f}+{result['children_peak_mb']:<4.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--old", type=Path, default=HERE.parent / "main")
    parser.add_argument("--produce", action="store_true", help="send the outbox to Kafka")
    parser.add_argument("--naive", action="store_true", help="the naive loop too (Kafka)")
    parser.add_argument("--workers", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--client", choices=["vigie", "naive"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        options = {"produce": args.produce, "workers": args.workers}
        result = _client(args.client, _urls(args.port, args.feeds, args.hosts), options)
        print(json.dumps(result))
        return

    from multiprocessing import Event

    sys.path.insert(0, str(HERE))
    from vigie.settings import private_environment

    port = int(private_environment("bench")["VIGIE_WEB_PORT"])
    ready = Event()
    server = Process(target=_serve, args=(port, args.hosts, ready), daemon=True)
    server.start()
    if not ready.wait(30):
        sys.exit("the feed server did not start")
    rows: list[tuple[str, dict[str, Any]]] = []
    try:
        # Old and new alternate with the new one's two modes, so that a neighbour's
        # load falls on each alike.
        rows.append((f"old ({args.old.name})", _run_client("vigie", args.old, port, args)))
        rows.append(("new, parse processes", _run_client("vigie", HERE, port, args)))
        rows.append(("new, parse thread", _run_client("vigie", HERE, port, args, workers=0)))
        if args.naive:
            rows.append(("naive sequential loop", _run_client("naive", HERE, port, args)))
    finally:
        server.terminate()
    print(
        f"{args.feeds} feeds ({len(_bodies())} real feeds x {args.feeds // len(_bodies())}), "
        f"{args.hosts} local hosts; {os.cpu_count()} cores, the server pinned to one"
    )
    print(
        f"{'':<34} {'poll s':>7} {'total s':>7} {'feeds/s':>8} {'entries':>8} {'errors':>6} "
        f"{'parse cpu':>9} {'produce':>8} {'peak MB':>10}"
    )
    for run, label in (("cold", "first poll"), ("warm", "next poll, 304s")):
        for name, result in rows:
            if run in result["runs"]:
                print(_row(f"{name}, {label}", result, run, args.feeds))
    print(
        "poll: every feed fetched, parsed and checked against the state, new entries in\n"
        "the outbox; total: with sending the outbox (--produce). parse cpu: CPU seconds of\n"
        "parsing, in whichever thread or process. peak MB: the client + its parse processes."
    )
    print("Target from issue #14: first poll of 1,000 local feeds <= 20 s; next poll <= 2 s.")


if __name__ == "__main__":
    main()
