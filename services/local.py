"""Real Kafka and a real search engine on a machine without Docker.

Both come from Maven Central as jars (`services/*/pom.xml`), are started on
127.0.0.1 as background JVMs, and are only reported up once they answer:
Kafka its metadata, the engine a yellow or green cluster health.
Everything they download or write lives in `services/.runtime/` (git-ignored).
"""

from __future__ import annotations

import base64
import logging
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from vigie.settings import REPO_ROOT, Settings

SERVICES_DIR = Path(__file__).resolve().parent
RUNTIME_DIR = SERVICES_DIR / ".runtime"


class ServiceError(RuntimeError):
    """A local service could not be fetched, started or reached; the message names it."""


@dataclass(frozen=True)
class Service:
    name: str
    home: Path
    start_timeout: float
    fetch: Callable[[], None]
    prepare: Callable[[], None]
    command: Callable[[], list[str]]
    answers: Callable[[], str | None]  # None when up, else why not

    @property
    def pid_file(self) -> Path:
        return self.home / "pid"

    @property
    def log_file(self) -> Path:
        return self.home / "service.log"


def _host_port(address: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(address if "//" in address else f"//{address}")
    return parts.hostname or "127.0.0.1", parts.port or default_port


def _require(tool: str, service: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise ServiceError(f"{service}: `{tool}` is not on PATH; install a JDK 17 and Maven")
    return path


def _maven_fetch(service: str, pom: Path, libs: Path) -> None:
    stamp = libs / ".fetched"
    if stamp.exists() and stamp.stat().st_mtime >= pom.stat().st_mtime:
        return
    mvn = _require("mvn", service)
    shutil.rmtree(libs, ignore_errors=True)
    print(f"{service}: fetching jars from Maven Central ({pom.relative_to(REPO_ROOT)}) ...")
    result = subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={libs}",
            "-DincludeScope=runtime",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
        raise ServiceError(f"{service}: Maven could not fetch its jars:\n{tail}")
    stamp.touch()


def _kafka(settings: Settings) -> Service:
    host, port = _host_port(settings.kafka_bootstrap_servers.split(",")[0], 9092)
    home = RUNTIME_DIR / "kafka"
    libs, data, props = home / "libs", home / "data", home / "server.properties"
    log4j = SERVICES_DIR / "kafka" / "log4j2.properties"

    def fetch() -> None:
        _maven_fetch("kafka", SERVICES_DIR / "kafka" / "pom.xml", libs)

    def java(main: str, *args: str, heap: str = "256m") -> list[str]:
        return [
            _require("java", "kafka"),
            f"-Xmx{heap}",
            f"-Xms{heap}",
            "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            f"{libs}/*",
            main,
            *args,
        ]

    def prepare() -> None:
        props.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@{host}:{port + 1}",
                    f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{port + 1}",
                    f"advertised.listeners=PLAINTEXT://{host}:{port}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                    f"log.dirs={data}",
                    "num.partitions=1",
                    # A single node: internal topics cannot have more than one replica.
                    "offsets.topic.replication.factor=1",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=true",
                    "",
                ]
            )
        )
        if not (data / "meta.properties").exists():
            cluster_id = "-"
            while cluster_id.startswith("-"):  # as Kafka's own Uuid.randomUuid() avoids
                cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
            # `=`: a base64 id may start with "-", which argparse would read as an option.
            cmd = java(
                "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", "-c", str(props)
            )
            result = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
                raise ServiceError(f"kafka: formatting the KRaft storage failed:\n{tail}")

    def answers() -> str | None:
        # A refused connection is the expected answer while the broker starts: the
        # client's own error lines are silenced for the probe, then restored.
        client_log = logging.getLogger("kafka")
        level = client_log.level
        client_log.setLevel(logging.CRITICAL)
        try:
            return _probe()
        finally:
            client_log.setLevel(level)

    def _probe() -> str | None:
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=f"{host}:{port}",
                request_timeout_ms=3000,
                api_version_auto_timeout_ms=3000,
            )
        except (KafkaError, OSError) as exc:
            return f"no broker answers at {host}:{port} ({exc.__class__.__name__})"
        try:
            brokers = admin.describe_cluster().get("brokers", [])
        except (KafkaError, OSError) as exc:
            return f"broker at {host}:{port} gives no metadata ({exc})"
        finally:
            admin.close()
        return None if brokers else "broker lists no brokers yet"

    return Service(
        name="kafka",
        home=home,
        start_timeout=90.0,
        fetch=fetch,
        prepare=prepare,
        command=lambda: java("kafka.Kafka", str(props), heap="1g"),
        answers=answers,
    )


def _search(settings: Settings) -> Service:
    host, port = _host_port(settings.elasticsearch_url, 9200)
    home = RUNTIME_DIR / "opensearch"
    libs, classes, node_home = home / "libs", home / "classes", home / "home"
    launcher = SERVICES_DIR / "opensearch" / "VigieOpenSearch.java"

    def fetch() -> None:
        _maven_fetch("search engine (opensearch)", SERVICES_DIR / "opensearch" / "pom.xml", libs)
        compiled = classes / "VigieOpenSearch.class"
        if compiled.exists() and compiled.stat().st_mtime >= launcher.stat().st_mtime:
            return
        javac = _require("javac", "search engine (opensearch)")
        classes.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [javac, "-d", str(classes), "-cp", f"{libs}/*", str(launcher)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ServiceError(
                f"search engine (opensearch): launcher does not compile:\n{result.stderr}"
            )

    def prepare() -> None:
        for sub in ("config", "modules", "plugins", "data", "logs"):
            (node_home / sub).mkdir(parents=True, exist_ok=True)

    def command() -> list[str]:
        return [
            _require("java", "search engine (opensearch)"),
            "-Xms1g",
            "-Xmx1g",
            "-XX:+UseG1GC",
            "-Dlog4j2.disable.jmx=true",
            "-cp",
            f"{libs}/*:{classes}",
            "VigieOpenSearch",
            str(node_home),
            str(port),
            str(port + 100),
        ]

    def answers() -> str | None:
        url = f"http://{host}:{port}/_cluster/health"
        try:
            response = httpx.get(url, timeout=3.0)
        except httpx.HTTPError as exc:
            return f"no answer at {url} ({exc.__class__.__name__})"
        if response.status_code != 200:
            return f"{url} answered HTTP {response.status_code}"
        status = response.json().get("status")
        return None if status in ("yellow", "green") else f"cluster health is {status}"

    return Service(
        name="search engine (opensearch)",
        home=home,
        start_timeout=180.0,
        fetch=fetch,
        prepare=prepare,
        command=command,
        answers=answers,
    )


def local_services(settings: Settings) -> list[Service]:
    return [_kafka(settings), _search(settings)]


def _running_pid(service: Service) -> int | None:
    try:
        pid = int(service.pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        # Reap it if it is our own exited child: a zombie still answers kill(pid, 0).
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return None
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return None
    return pid


def _log_tail(service: Service, lines: int = 25) -> str:
    """The end of a service's log, without Java stack frames, which would push the
    exception that says what went wrong out of view."""
    try:
        text = service.log_file.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    kept = [line for line in text.splitlines() if not line.lstrip().startswith("at ")]
    return "\n".join(kept[-lines:])


def start(service: Service) -> str:
    """Start one service unless it already answers; return what was done."""
    if service.answers() is None:
        return f"{service.name}: already up"
    pid = _running_pid(service)
    if pid is None:
        service.home.mkdir(parents=True, exist_ok=True)
        service.fetch()
        service.prepare()
        if service.log_file.exists():  # keep the previous run's log beside the new one
            service.log_file.replace(service.log_file.with_suffix(".log.1"))
        with service.log_file.open("wb") as log:
            pid = subprocess.Popen(
                service.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=service.home,
                start_new_session=True,  # outlives the CLI; `vigie services down` stops it
            ).pid
        service.pid_file.write_text(str(pid))
    deadline = time.monotonic() + service.start_timeout
    why = service.answers()
    while why is not None:
        if _running_pid(service) is None:
            raise ServiceError(
                f"{service.name}: process {pid} exited before answering.\n"
                f"Last lines of {service.log_file}:\n{_log_tail(service)}"
            )
        if time.monotonic() > deadline:
            tail = _log_tail(service)
            stop(service)
            raise ServiceError(
                f"{service.name}: not answering after {service.start_timeout:.0f}s: {why}.\n"
                f"Last lines of {service.log_file}:\n{tail}"
            )
        time.sleep(1.0)
        why = service.answers()
    return f"{service.name}: up (pid {pid})"


def stop(service: Service, timeout: float = 60.0) -> str:
    pid = _running_pid(service)
    if pid is None:
        service.pid_file.unlink(missing_ok=True)
        return f"{service.name}: not running"
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _running_pid(service) is not None and time.monotonic() < deadline:
        time.sleep(0.5)
    if _running_pid(service) is not None:
        os.killpg(pid, signal.SIGKILL)
    service.pid_file.unlink(missing_ok=True)
    return f"{service.name}: stopped"


def status_of(service: Service) -> dict[str, str | int | None]:
    """Whether a service answers (and why not), and the process Vigie started for it."""
    why = service.answers()
    return {
        "service": service.name,
        "state": "up" if why is None else "down",
        "reason": why,
        "pid": _running_pid(service),
    }


def status(service: Service) -> str:
    known = status_of(service)
    state = "up" if known["reason"] is None else f"down ({known['reason']})"
    owner = f"pid {known['pid']}" if known["pid"] is not None else "not started by vigie"
    return f"{service.name}: {state}, {owner}"
