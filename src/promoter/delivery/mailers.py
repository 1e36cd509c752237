"""Mail backends, chosen by ``PROMOTER_EMAIL_URL``.

- ``file:FOLDER``: each message written to FOLDER as a ``.eml`` file (the default, so the
  whole loop works without a mail server).
- ``smtp://[user:pass@]host:port[?starttls=true|tls=true&timeout=S&connections=N]``: a
  real SMTP server, up to N connections (default 4) kept open and reused.

A backend raises :class:`TemporaryFailure` (try again later: 4xx answers, refused or lost
connections, timeouts, any refusal before the message such as a wrong password) or
:class:`PermanentFailure` (5xx to the message: the address is refused).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import select
import smtplib
import ssl
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from promoter.delivery import smtp_exchange
from promoter.delivery.render import OutgoingEmail

#: SMTP connections a worker sends over side by side: each message waits for the server's
#: answers four times (MAIL, RCPT, DATA, the end of the message; twice with PIPELINING),
#: so more connections keep more messages moving.
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


@dataclass(frozen=True, slots=True)
class SmtpOptions:
    """Where and how an :class:`SmtpMailer` connects."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    #: Implicit TLS from the start (``smtps://``, port 465).
    use_tls: bool = False
    #: True: upgrade with STARTTLS (or fail); None: upgrade when the server offers it.
    start_tls: bool | None = None
    #: Seconds to connect, and to wait for each of the server's answers.
    timeout: float = 30.0


class SmtpMailer:
    """Sends through up to ``connections`` SMTP connections, kept open and reused; a
    connection that fails, or that the server closed while it was idle, is dropped and a
    new one opened for the next message.

    Each connection has a thread of its own, started when messages wait for one, that
    sends over a blocking socket (``smtplib`` connects, greets and logs in;
    :mod:`promoter.delivery.smtp_exchange` sends): a message is two to four waits for
    the server's answer, which a blocking socket sits out for less CPU than the event
    loop's callbacks would take.
    """

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
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        if use_tls and start_tls:
            raise ValueError("STARTTLS and implicit TLS (smtps://, tls=true) exclude each other")
        self.options = SmtpOptions(host, port, username, password, use_tls, start_tls, timeout)
        self._tls_context = tls_context
        self._connections = connections
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._waiting = 0  # messages handed to the threads and not yet settled

    async def send(self, message: OutgoingEmail) -> None:
        # A thread (and its connection) more while messages wait, up to ``connections``.
        self._waiting += 1
        if len(self._threads) < self._connections and self._waiting > len(self._threads):
            name = f"promoter-smtp-{len(self._threads)}"
            self._threads.append(threading.Thread(target=self._serve, name=name, daemon=True))
            self._threads[-1].start()
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._queue.put(_Job(message, loop, done))
        try:
            await done
        finally:
            self._waiting -= 1

    def _serve(self) -> None:
        """A connection's thread: sends the messages it takes from the queue, one after
        the other, until it takes None; then says QUIT."""
        connection: smtplib.SMTP | None = None
        while (job := self._queue.get()) is not None:
            try:
                if connection is not None and not _open(connection):
                    _close(connection)
                    connection = None
                if connection is None:
                    connection = self._connect()
                error, keep = _send(connection, job.message)
            except Exception as exc:  # reported to the sender, never lost in this thread
                error, keep = exc, False
            if connection is not None and not keep:
                _close(connection)
                connection = None
            with contextlib.suppress(RuntimeError):  # the sender's event loop is gone
                job.loop.call_soon_threadsafe(_settle, job.done, error)
        if connection is not None:
            _quit(connection)

    def _connect(self) -> smtplib.SMTP:
        """A connection that has said EHLO, upgraded to TLS and logged in as configured."""
        host, port, timeout = self.options.host, self.options.port, self.options.timeout
        try:
            if self.options.use_tls:
                connection: smtplib.SMTP = smtplib.SMTP_SSL(
                    host, port, timeout=timeout, context=self._context()
                )
            else:
                connection = smtplib.SMTP(host, port, timeout=timeout)
        except smtplib.SMTPConnectError as exc:  # the server's greeting was not 220
            raise _setup_failed(exc) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TemporaryFailure(f"could not connect to {host}:{port}: {_describe(exc)}") from exc
        try:
            self._greet(connection)
        except smtplib.SMTPResponseException as exc:
            _close(connection)
            raise _setup_failed(exc) from exc
        except (smtplib.SMTPException, OSError) as exc:
            _close(connection)
            raise TemporaryFailure(_describe(exc)) from exc
        return connection

    def _context(self) -> ssl.SSLContext:
        """The TLS settings: by default the system's certificate authorities, loaded
        when TLS is first used, once."""
        if self._tls_context is None:
            self._tls_context = ssl.create_default_context()
        return self._tls_context

    def _greet(self, connection: smtplib.SMTP) -> None:
        """EHLO (or HELO), STARTTLS as configured or offered, then AUTH if configured."""
        connection.ehlo_or_helo_if_needed()
        start_tls = self.options.start_tls
        offered = connection.has_extn("starttls") and not self.options.use_tls
        if start_tls or (start_tls is None and offered):
            connection.starttls(context=self._context())
            connection.ehlo()
        if self.options.username is not None:
            connection.login(self.options.username, self.options.password or "")

    async def close(self) -> None:
        """Finish the messages handed over, say QUIT and end the threads."""
        threads, self._threads = self._threads, []
        for _ in threads:
            self._queue.put(None)
        if threads:
            await asyncio.to_thread(_join, threads)


@dataclass(frozen=True, slots=True)
class _Job:
    message: OutgoingEmail
    loop: asyncio.AbstractEventLoop
    done: asyncio.Future[None]


def _send(connection: smtplib.SMTP, message: OutgoingEmail) -> tuple[Exception | None, bool]:
    """Send one message: the failure (None if sent) and whether the connection can be
    used again."""
    try:
        smtp_exchange.send(connection, message)
    except smtp_exchange.Refused as exc:
        return _by_code(exc.code, _text(exc.text)), exc.usable
    except smtp_exchange.NotSendable as exc:
        return TemporaryFailure(str(exc)), True
    except smtp_exchange.BadRecipient as exc:
        return PermanentFailure(str(exc)), True
    except (smtplib.SMTPException, OSError) as exc:
        return TemporaryFailure(_describe(exc)), False
    return None, True


def _describe(exc: Exception) -> str:
    """What went wrong, naming a timeout (smtplib reports one as a lost connection)."""
    if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
        return f"TimeoutError: no answer from the SMTP server in time ({exc})"
    return f"{type(exc).__name__}: {exc}"


def _settle(done: asyncio.Future[None], error: Exception | None) -> None:
    if done.cancelled():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)


def _open(connection: smtplib.SMTP) -> bool:
    """Whether an idle connection is still open: the server has neither closed it nor
    said anything (an idle server says only goodbye, e.g. 421 on its timeout)."""
    sock = connection.sock
    if sock is None:
        return False
    with contextlib.suppress(OSError, ValueError):
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return not poller.poll(0)
        return not select.select([sock], [], [], 0)[0]
    return False


def _close(connection: smtplib.SMTP) -> None:
    with contextlib.suppress(Exception):
        connection.close()


def _quit(connection: smtplib.SMTP) -> None:
    try:
        connection.quit()
    except (smtplib.SMTPException, OSError):
        _close(connection)


def _join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join()


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _setup_failed(exc: smtplib.SMTPResponseException) -> TemporaryFailure:
    """A refusal before any message (the greeting, EHLO, STARTTLS, AUTH: a wrong password
    answers 535) says nothing about the address: the message is tried again later, and
    the contact is not bounced, whatever the code."""
    return TemporaryFailure(
        f"the mail server refused the connection: {exc.smtp_code} {_text(exc.smtp_error)}"
    )


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
