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
    service = BusService("probe", ServiceSettings(nats_url=nats_server.url))
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
