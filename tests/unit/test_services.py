"""The service manager's failure paths, with real processes that cannot come up."""

from pathlib import Path

import pytest

from services import local as services
from vigie.settings import Settings


def _service(tmp_path: Path, command: list[str], timeout: float = 30.0) -> services.Service:
    return services.Service(
        name="search engine (test double)",
        home=tmp_path,
        start_timeout=timeout,
        fetch=lambda: None,
        prepare=lambda: None,
        command=lambda: command,
        answers=lambda: "nothing listens on 127.0.0.1:1",
    )


def test_a_service_that_exits_is_named_with_its_log(tmp_path: Path) -> None:
    service = _service(tmp_path, ["sh", "-c", "echo 'bind failed: address in use'; exit 3"])
    with pytest.raises(services.ServiceError) as caught:
        services.start(service)
    message = str(caught.value)
    assert message.startswith("search engine (test double): process")
    assert "exited before answering" in message
    assert "bind failed: address in use" in message


def test_a_service_that_never_answers_times_out_and_is_stopped(tmp_path: Path) -> None:
    service = _service(tmp_path, ["sh", "-c", "echo starting; exec sleep 600"], timeout=2.0)
    with pytest.raises(services.ServiceError, match=r"not answering after 2s: nothing listens"):
        services.start(service)
    assert not service.pid_file.exists()
    assert services.status(service).startswith("search engine (test double): down")


def test_local_services_follow_the_settings() -> None:
    names = [s.name for s in services.local_services(Settings())]
    assert names == ["kafka", "search engine (opensearch)"]
