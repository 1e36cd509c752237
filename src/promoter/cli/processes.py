"""How ``promoter serve`` runs its HTTP service: in its own process, or in N processes
on one port under uvicorn's supervisor.

With ``--processes N`` the command's process binds the port (a socket for each process,
see promoter.cli.listeners), starts N processes that each build the app from the same
settings and accept connections from their socket, and checks on them twice a second:
one that has exited, whatever the cause (SIGKILL, out of memory), is replaced. SIGTERM or
Ctrl-C stop them all, each finishing its requests in hand; SIGHUP replaces them one at a
time.
"""

from __future__ import annotations

import functools
import gc
import logging
from dataclasses import dataclass
from typing import Any

import click
from fastapi import FastAPI

from promoter.app import Background, create_app, themes_until
from promoter.cli.listeners import BindError, Listeners, bind_listeners
from promoter.config import Settings
from promoter.delivery.worker import DeliveryWorker
from promoter.services import Services
from promoter.web.server_options import server_options

log = logging.getLogger("promoter.serve")

#: The most API processes ``--processes`` starts.
MAX_PROCESSES = 64
#: Seconds a new process may take to serve when SIGHUP replaces the processes: it imports
#: the app first, which takes seconds on a busy machine.
READY_SECONDS = 60

SQLITE_ONE_PROCESS = (
    "--processes above 1 needs PostgreSQL: SQLite takes one writer per file, and "
    "`promoter serve` keeps its writes in turn within its own process, so a second process "
    "on the same file would only wait for the first (see docs/scaling.md)"
)


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def delivery_worker(services: Services, batch_size: int = 50) -> DeliveryWorker:
    try:
        return services.worker(batch_size)
    except ValueError as exc:
        raise click.ClickException(f"PROMOTER_EMAIL_URL: {exc}") from None


def background_tasks(services: Services) -> list[Background]:
    """What a serving process runs beside the HTTP service unless ``--no-worker`` (and
    what ``promoter worker`` runs): the delivery worker, the webhook and Segment source
    senders, the one-click settler and the comment themes' rounds."""
    return [
        delivery_worker(services).run,
        services.webhook_sender().run,
        services.segment_sender().run,
        services.click_settler().run,
        functools.partial(themes_until, services=services),
    ]


def settle_heap() -> None:
    """Once the app is built: collect, then move what is left (the modules, the app, its
    routes and templates) out of the garbage collector's sight. A full collection walked
    all of it again and again under load, stalling the event loop for tens of
    milliseconds: one message in a hundred waited 70-100 ms for its answer instead of
    about 20 (benchmarks/single_message.py)."""
    gc.collect()
    gc.freeze()


def run_one(services: Services, background: list[Background]) -> None:
    """Serve from this process until stopped."""
    import uvicorn

    app = create_app(services, background)
    settle_heap()
    uvicorn.run(app, **server_options(services.settings))


@dataclass(frozen=True)
class ProcessApp:
    """The app factory each API process calls (sent to it pickled): its own database
    pool, caches and, unless ``no_worker``, its own delivery worker and senders."""

    settings: Settings
    no_worker: bool

    def __call__(self) -> FastAPI:
        from promoter.cli.common import open_database

        configure_logging(self.settings)
        services = Services.build(self.settings, open_database(self.settings))
        app = create_app(services, [] if self.no_worker else background_tasks(services))
        settle_heap()
        return app


def run_many(processes: int, settings: Settings, *, no_worker: bool) -> None:
    """Serve from ``processes`` processes on one port until stopped (SIGTERM, Ctrl-C),
    replacing any that dies."""
    import uvicorn

    config = uvicorn.Config(
        ProcessApp(settings, no_worker),
        factory=True,
        workers=processes,
        timeout_worker_healthcheck=READY_SECONDS,
        **server_options(settings),
    )
    try:
        listeners = bind_listeners(settings.host, settings.port, processes)
    except BindError as exc:
        raise click.ClickException(str(exc)) from None
    log.info(
        "Serving on %s:%s from %s processes (%s)",
        settings.host,
        listeners.port,
        processes,
        "one socket shared" if listeners.shared else "a socket each, SO_REUSEPORT",
    )
    try:
        supervisor(config, listeners).run()
    finally:
        listeners.close()


def supervisor(config: Any, listeners: Listeners) -> Any:
    """uvicorn's supervisor of processes, each process with its own listening socket
    (see promoter.cli.listeners), replacing a process as soon as it has exited.

    uvicorn's own check also sends each process a ping down a pipe and waits for the
    answer before looking at the next one; under load a ping was seen to go unanswered
    for minutes by a process that was serving, and a killed process next to it waited
    that long to be replaced. An exited process is what this one looks for.
    """
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors.multiprocess import Multiprocess, Process

    class Supervisor(Multiprocess):
        def process_for(self, index: int) -> Process:
            process = Process(self.config, [listeners.socket_of(index)])
            process.start()
            return process

        def init_processes(self) -> None:
            for index in range(self.processes_num):
                self.processes.append(self.process_for(index))

        def keep_subprocess_alive(self) -> None:
            for index, process in enumerate(self.processes):
                if self.should_exit.is_set() or process.exitcode is None:
                    continue
                process.join()
                if process.exitcode == STARTUP_FAILURE:
                    # Its app or socket is broken: another would fail the same way.
                    log.error("API process %s failed to start; stopping", process.pid)
                    self.should_exit.set()
                    return
                log.warning(
                    "API process %s exited (%s); starting another", process.pid, process.exitcode
                )
                self.processes[index] = self.process_for(index)

        def restart_all(self) -> None:
            """SIGHUP: each process replaced by a new one on the same socket, the old one
            stopped once the new one serves."""
            for index, old in enumerate(self.processes):
                if self.should_exit.is_set():
                    return
                new = self.process_for(index)
                ready = new.wait_until_ready(READY_SECONDS, self.should_exit)
                if not ready:
                    new.kill()
                    new.join()
                    if not self.should_exit.is_set():
                        log.error(
                            "API process %s was not ready in time; keeping %s and stopping "
                            "the restart",
                            new.pid,
                            old.pid,
                        )
                    return
                old.terminate()
                old.join()
                self.processes[index] = new

        def terminate_all(self) -> None:
            """Stop every process, and close the sockets: a connection made while they
            finish their requests in hand is refused rather than queued and reset."""
            super().terminate_all()
            listeners.close()

        def handle_ttin(self) -> None:
            log.info("SIGTTIN: one more API process")
            try:
                listeners.add()
            except BindError as exc:
                log.error("SIGTTIN: no process added: %s", exc)
                return
            self.processes_num += 1
            self.processes.append(self.process_for(self.processes_num - 1))

        def handle_ttou(self) -> None:
            if self.processes_num <= 1:
                log.info("SIGTTOU: one API process left; keeping it")
                return
            log.info("SIGTTOU: one API process fewer")
            self.processes_num -= 1
            process = self.processes.pop()
            listeners.remove_last()
            process.terminate()
            process.join()

    return Supervisor(config, sockets=listeners.sockets)
