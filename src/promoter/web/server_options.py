"""The options ``promoter serve`` gives uvicorn, in one place, so that a benchmark's
comparison apps run under exactly the same server settings."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from promoter.config import Settings
from promoter.web.read_timeouts import ReadTimeoutProtocols


def server_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run(app, **options)``, the same for one process or N
    (the protocol factory is picklable, for the processes uvicorn starts)."""
    protocols = ReadTimeoutProtocols(
        header_timeout=settings.header_timeout, body_timeout=settings.body_timeout
    )
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "access_log": settings.access_log,
        "timeout_graceful_shutdown": 10,
        "http": cast("type[asyncio.Protocol]", protocols),
    }
