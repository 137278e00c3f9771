"""``python -m exam_api``: serve the exam's routes on both ports and supervise the engine's processes.

One event loop runs two uvicorn servers over the same app (``/interact`` is called on the first
port, ``/recs`` on the second; every route answers on both). SIGTERM or SIGINT stops both servers,
then the children.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Coroutine, Iterator
from typing import Any

import uvicorn

from exam_api.bootstrap import ExamApp, build
from exam_api.settings import ExamSettings
from exam_api.supervisor import EngineChildren, engine_children
from recsys_common.settings import warn_unknown_variables

log = logging.getLogger("exam_api")

#: Seconds between two looks at the children.
SUPERVISE_EVERY_S = 1.0


class _Server(uvicorn.Server):
    """A uvicorn server that leaves the signals to ``serve`` (two servers share one loop)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(exam: ExamApp, children: EngineChildren | None) -> None:
    settings = exam.settings
    ports = dict.fromkeys([settings.exam_interact_port, settings.exam_recs_port])
    servers = [
        _Server(
            uvicorn.Config(
                exam.app,
                host=settings.exam_host,
                port=port,
                lifespan="off",
                access_log=False,
                log_level=settings.exam_log_level,
            )
        )
        for port in ports
    ]
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server in servers:
            server.should_exit = True

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)

    async def supervise() -> None:
        while children is not None:
            await asyncio.sleep(SUPERVISE_EVERY_S)
            children.check()

    watcher = asyncio.create_task(supervise())
    try:
        await asyncio.gather(*(server.serve() for server in servers))
    finally:
        watcher.cancel()


def main() -> None:
    settings = ExamSettings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    warn_unknown_variables()
    exam = build(settings)
    exam.service.load()
    children = engine_children(settings) if settings.exam_engine_children else None
    if children is not None:
        children.start()
    log.info(
        "exam API on %s ports %d (/interact) and %d (/recs), data in %s",
        settings.exam_host,
        settings.exam_interact_port,
        settings.exam_recs_port,
        settings.data_dir,
    )
    try:
        _run(serve(exam, children))
    finally:
        if children is not None:
            children.stop()
        exam.close()


def _run(main_coroutine: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop (uvicorn[standard] brings it), else on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        asyncio.run(main_coroutine)
    else:
        uvloop.run(main_coroutine)


if __name__ == "__main__":
    main()
