"""A service whose background job dies says so and stops being ready, instead of idling silently."""

from __future__ import annotations

import asyncio
import logging

import pytest
from mss.bus.service import BusService
from mss.core.settings import ServiceSettings
from mss.testing.fixtures import RunningNats
from mss.testing.inprocess import running


async def test_a_background_job_that_fails_is_logged_and_unreadies_the_service(
    nats_server: RunningNats, caplog: pytest.LogCaptureFixture
) -> None:
    service = BusService("probe", ServiceSettings(**nats_server.settings()))
    release = asyncio.Event()

    async def job() -> None:
        await release.wait()
        raise TimeoutError("fetch gave up")

    service.background.append(job)
    async with running(service):
        assert service.readiness.is_ready() == (True, "ready")
        release.set()
        for _ in range(100):  # the job's end is handled on the next loop iterations
            if not service.readiness.is_ready()[0]:
                break
            await asyncio.sleep(0)
        assert service.readiness.is_ready() == (False, "background jobs not ready")
    failed = [r for r in caplog.records if r.levelno == logging.ERROR and "background job ended" in r.message]
    assert failed
    assert "TimeoutError" in str(failed[0].__dict__.get("error"))


async def test_a_periodic_job_runs_at_once_survives_its_failures_and_ends_with_the_service(
    nats_server: RunningNats, caplog: pytest.LogCaptureFixture
) -> None:
    service = BusService("probe", ServiceSettings(**nats_server.settings()))
    runs: list[int] = []
    again = asyncio.Event()

    async def job() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("the database is away")
        again.set()

    hourly: list[int] = []

    async def rare() -> None:
        hourly.append(1)

    service.every(0.01, job)
    service.every(3600, rare)  # waits an hour after its first run, unless the service stops
    async with running(service):  # its stop fails after 30 s: the hourly job must end with the service
        await asyncio.wait_for(again.wait(), 5)
    assert hourly == [1]
    assert runs[:2] == [0, 1]
    assert any("periodic job failed" in r.message for r in caplog.records)
    assert service.readiness.is_ready()[0] is False  # stopped
