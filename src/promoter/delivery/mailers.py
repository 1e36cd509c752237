"""Mail backends, chosen by ``PROMOTER_EMAIL_URL``.

- ``file:FOLDER``: each message written to FOLDER as a ``.eml`` file (the default, so the
  whole loop works without a mail server).
- ``smtp://[user:pass@]host:port[?starttls=true|tls=true&timeout=S&connections=N]``: a
  real SMTP server, up to N connections (default 4) kept open and reused.

A backend raises :class:`TemporaryFailure` (try again later: 4xx answers, refused or lost
connections, timeouts) or :class:`PermanentFailure` (5xx: the address is refused).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from promoter.delivery.render import OutgoingEmail

#: SMTP connections a worker sends over side by side: each message waits for the server's
#: answers four times (MAIL, RCPT, DATA, the end of the message), so more connections
#: keep more messages moving.
DEFAULT_CONNECTIONS = 4
#: The most ``?connections=`` may ask for: mail servers limit connections per client.
MOST_CONNECTIONS = 20


class TemporaryFailure(Exception):
    """Sending failed for now; the same message may be sent again later."""


class PermanentFailure(Exception):
    """The server refused the message for good (e.g. no such mailbox)."""


class Mailer(Protocol):
    async def send(self, message: OutgoingEmail) -> None: ...

    async def close(self) -> None: ...


class FileMailer:
    """Writes each message to ``folder`` as ``<time>-<message id>.eml``, atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def send(self, message: OutgoingEmail) -> None:
        await asyncio.to_thread(self._write, message)

    def _write(self, message: OutgoingEmail) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        local = message.message_id.strip("<>").partition("@")[0]
        name = f"{local}.eml"
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(message.data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.folder / name)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise TemporaryFailure(f"cannot write {self.folder / name}: {exc}") from exc

    async def close(self) -> None:
        return None


class SmtpMailer:
    """Sends through up to ``connections`` SMTP connections, kept open and reused; a
    connection that fails is dropped and a new one opened for the next message."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str | None = None,
        password: str | None = None,
        use_tls: bool = False,
        start_tls: bool | None = None,
        timeout: float = 30.0,
        connections: int = DEFAULT_CONNECTIONS,
    ) -> None:
        self._options = {
            "hostname": host,
            "port": port,
            "username": username,
            "password": password,
            "use_tls": use_tls,
            "start_tls": start_tls,
            "timeout": timeout,
        }
        self._idle: list[aiosmtplib.SMTP] = []
        self._connections = connections
        self._slots: asyncio.Semaphore | None = None

    async def send(self, message: OutgoingEmail) -> None:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._connections)
        async with self._slots:
            client = self._idle.pop() if self._idle else None
            healthy = False
            try:
                if client is None or not client.is_connected:
                    client = aiosmtplib.SMTP(**self._options)  # type: ignore[arg-type]
                    await client.connect()
                utf8 = not (message.data.isascii() and message.recipient.isascii())
                errors, _ = await client.sendmail(
                    message.sender,
                    [message.recipient],
                    message.data,
                    mail_options=["SMTPUTF8"] if utf8 else [],
                )
                healthy = True
            except aiosmtplib.SMTPRecipientsRefused as exc:
                healthy = True  # the server answered; the connection is fine
                raise _by_code(min(r.code for r in exc.recipients), str(exc)) from exc
            except aiosmtplib.SMTPResponseException as exc:
                healthy = exc.code >= 500
                raise _by_code(exc.code, exc.message) from exc
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from exc
            finally:
                if client is not None:
                    if healthy:
                        self._idle.append(client)
                    else:  # broken, or in a state we cannot trust: start afresh next time
                        with contextlib.suppress(Exception):
                            client.close()
            if errors:
                code, text = next(iter(errors.values()))
                raise _by_code(code, text)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            if client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    client.close()


def _by_code(code: int, text: str) -> Exception:
    if code >= 500:
        return PermanentFailure(f"{code} {text}")
    return TemporaryFailure(f"{code} {text}")


def _flag(values: dict[str, list[str]], name: str) -> bool | None:
    if name not in values:
        return None
    return values[name][-1].lower() in {"1", "true", "yes", "on"}


def mailer_from_url(url: str) -> FileMailer | SmtpMailer:
    """The backend ``PROMOTER_EMAIL_URL`` names; ``ValueError`` says what is wrong."""
    if url.startswith("file:"):
        path = url[len("file:") :]
        if path.startswith("//"):
            path = urlsplit(url).path
        if not path:
            raise ValueError("file: needs a folder, e.g. file:promoter-mail")
        return FileMailer(Path(path))
    parts = urlsplit(url)
    if parts.scheme not in {"smtp", "smtps"}:
        raise ValueError(f"unsupported email URL {url!r}: use file:FOLDER or smtp://host:port")
    if not parts.hostname:
        raise ValueError("smtp:// needs a host")
    query = parse_qs(parts.query)
    use_tls = parts.scheme == "smtps" or bool(_flag(query, "tls"))
    timeout = float(query.get("timeout", ["30"])[-1])
    connections = query.get("connections", [str(DEFAULT_CONNECTIONS)])[-1]
    if not connections.isdigit() or not 1 <= int(connections) <= MOST_CONNECTIONS:
        raise ValueError(f"connections= must be a whole number from 1 to {MOST_CONNECTIONS}")
    return SmtpMailer(
        host=parts.hostname,
        port=parts.port or (465 if use_tls else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_tls=use_tls,
        start_tls=_flag(query, "starttls"),
        timeout=timeout,
        connections=int(connections),
    )
