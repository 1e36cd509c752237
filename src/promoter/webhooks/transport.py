"""The sender's HTTP transport: it resolves each target itself, checks every address
against the :class:`~promoter.webhooks.targets.TargetPolicy`, and connects to a checked
address, so a name that changes between the check and the connection (DNS rebinding)
cannot lead elsewhere. TLS still verifies the certificate for the name in the URL.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus

import httpcore2
import httpx2 as httpx

from promoter.webhooks.targets import IPAddress, TargetPolicy, TargetRefused, literal_address

log = logging.getLogger("promoter.webhooks")

#: ``resolve(host, port)``: the addresses to connect to, in order of preference.
Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]


async def resolve(host: str, port: int) -> list[IPAddress]:
    """The system resolver's addresses for ``host`` (an address is itself)."""
    address = literal_address(host)
    if address is not None:
        return [address]
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    found: dict[IPAddress, None] = {}
    for *_, sockaddr in infos:
        parsed = literal_address(str(sockaddr[0]))
        if parsed is not None:
            found[parsed] = None
    return list(found)


class GuardedBackend(httpcore2.AsyncNetworkBackend):
    """Connects only to addresses the policy allows; refuses a name if any of its
    addresses is refused (:class:`TargetRefused`)."""

    def __init__(self, policy: TargetPolicy, resolver: Resolver = resolve) -> None:
        self._policy = policy
        self._resolver = resolver
        self._inner = httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await self._addresses(host, port)
                return await self._connect_any(addresses, port, local_address, socket_options)
        except TimeoutError:
            raise httpcore2.ConnectTimeout(f"could not connect to {host}") from None

    async def _addresses(self, host: str, port: int) -> Sequence[IPAddress]:
        try:
            addresses = await self._resolver(host, port)
        except OSError as exc:
            raise httpcore2.ConnectError(f"could not resolve {host}: {exc.strerror}") from None
        if not addresses:
            raise httpcore2.ConnectError(f"could not resolve {host}")
        for address, kind in self._policy.refusals(addresses):
            raise TargetRefused(address, kind)
        return addresses

    async def _connect_any(
        self,
        addresses: Sequence[IPAddress],
        port: int,
        local_address: str | None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None,
    ) -> httpcore2.AsyncNetworkStream:
        """The first of ``addresses`` that accepts a connection."""
        failure: httpcore2.ConnectError | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore2.ConnectError as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        raise httpcore2.ConnectError("webhooks are not sent over Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a :class:`GuardedBackend` (no proxies from the environment:
    they would be the address checked)."""

    def __init__(
        self, *, policy: TargetPolicy, resolver: Resolver = resolve, max_connections: int
    ) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(policy, resolver),
        )


def status_line(status: int) -> str:
    """``HTTP 500 Internal Server Error``: the code and its standard reason (the receiver's
    own reason phrase is text of its choosing, like its body, and is not kept)."""
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def failure(exc: httpx.HTTPError) -> str:
    """What went wrong, in words of ours: an error about a malformed answer may quote it."""
    if isinstance(exc, httpx.ProtocolError):
        return "the answer was not valid HTTP"
    if isinstance(exc, httpx.NetworkError):
        return "the connection was lost"
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return f"{type(exc).__name__}: {exc}"  # about the URL, the organization's own
    return type(exc).__name__


@dataclass(frozen=True, slots=True)
class Answer:
    """What came of one POST: the status and headers of the answer (its body is not read),
    or the error in words of ours; ``permanent`` when trying again cannot help."""

    status: int | None = None
    headers: Mapping[str, str] | None = None
    error: str | None = None
    permanent: bool = False


async def post(
    client: httpx.AsyncClient,
    url: str,
    *,
    content: bytes,
    headers: Mapping[str, str],
    connect_timeout: float,
    total_timeout: float,
) -> Answer:
    """POST ``content`` to ``url``; any failure becomes the answer's error (a status
    already received is kept with it)."""
    status: int | None = None
    answer_headers: dict[str, str] | None = None
    error: str | None = None
    permanent = False
    try:
        async with (
            asyncio.timeout(total_timeout),
            client.stream("POST", url, content=content, headers=headers) as response,
        ):
            status, answer_headers = response.status_code, dict(response.headers)
    except TargetRefused as exc:
        error, permanent = str(exc), True
    except httpx.ConnectTimeout:
        error = f"could not connect within {connect_timeout:g} s"
    except (TimeoutError, httpx.TimeoutException):
        error = f"no answer within {total_timeout:g} s"
    except httpx.ConnectError as exc:
        error = f"could not connect: {exc or type(exc).__name__}"
    except httpx.HTTPError as exc:
        log.info("POST to %s: %r", url, exc)
        error = failure(exc)
    except Exception as exc:  # an odd URL or answer must not stop the batch
        log.exception("POST to %s failed unexpectedly", url)
        error = f"{type(exc).__name__} (see the server's log)"
    return Answer(status, answer_headers, error, permanent)
