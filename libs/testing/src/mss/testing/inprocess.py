"""Run one service inside the test's event loop, against real servers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mss.bus.service import BusService


@asynccontextmanager
async def running(service: BusService, timeout: float = 30.0) -> AsyncIterator[BusService]:
    """Start ``service``, wait until it serves, and stop it (draining) on exit."""
    task = asyncio.create_task(service.run(standalone=False))
    ready = asyncio.create_task(service.ready.wait())
    done, _ = await asyncio.wait({task, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    if ready not in done:
        ready.cancel()
        if task in done:
            task.result()  # raises the start-up error
        task.cancel()
        raise TimeoutError(f"{service.name} did not start within {timeout} s")
    try:
        yield service
    finally:
        service.stop()
        try:
            await asyncio.wait_for(task, timeout)
        except TimeoutError:
            raise TimeoutError(f"{service.name} did not stop within {timeout} s") from None
