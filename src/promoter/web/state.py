"""Access to the :class:`~promoter.services.Services` of the app serving a request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from promoter.services import Services


async def get_services(request: Request) -> Services:
    # A coroutine, so that FastAPI calls it on the event loop: a plain function
    # dependency costs every request a trip to a worker thread and back.
    services = request.app.state.services
    assert isinstance(services, Services)
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
