"""The tracing HTTP API: ``GET /api/v1/messages/{id}`` returns a message's timeline."""

from __future__ import annotations

import re
from collections.abc import Callable

import asyncpg
from aiohttp import web
from mss.tracing.store import timeline

_MESSAGE_ID = re.compile(r"^[0-9A-Za-z._-]{1,64}$")


def add_routes(app: web.Application, pool: Callable[[], asyncpg.Pool]) -> None:
    """Mount the API on the service's HTTP application."""

    async def get_message(request: web.Request) -> web.Response:
        message_id = request.match_info["message_id"]
        if not _MESSAGE_ID.match(message_id):
            return web.json_response({"error": "malformed message id"}, status=400)
        found = await timeline(pool(), message_id)
        if found is None:
            return web.json_response({"error": "unknown message id"}, status=404)
        return web.json_response(found)

    app.router.add_get("/api/v1/messages/{message_id}", get_message)
