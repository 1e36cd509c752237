"""Access to the :class:`~promoter.services.Services` of the app serving a request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from promoter.services import Services


def get_services(request: Request) -> Services:
    services = request.app.state.services
    assert isinstance(services, Services)
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
