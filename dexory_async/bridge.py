"""The thread boundary: the asyncio extractor runs on its own loop in a background thread, and the calling thread
iterates the flattened pages through a bounded queue.

The calling thread is where the Fivetran SDK's blocking operations (upsert, checkpoint) run, so the event loop keeps
fetching while the warehouse writes. Either side failing ends both promptly: an extractor error is re-raised in the
calling thread, and leaving the iteration early cancels the extractor and joins its thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType

from .config import Settings
from .extractor import extract
from .messages import Item, SiteStart
from .page import Page
from .transport import AiohttpTransport, TransportFactory

logger = logging.getLogger(__name__)

QUEUE_PAGES = 2
JOIN_TIMEOUT_SECONDS = 30.0
_POLL_SECONDS = 0.5


@dataclass(frozen=True)
class _Finished:
    error: BaseException | None = None


class ExtractorThread:
    """Context manager and iterator of what the extractor hands on: pages (in order within each site), and how
    each site ended."""

    def __init__(
        self,
        settings: Settings,
        starts: Mapping[str, SiteStart],
        *,
        while_waiting: Callable[[], None] = lambda: None,
        queue_pages: int = QUEUE_PAGES,
        transport: TransportFactory | None = None,
    ) -> None:
        self._settings = settings
        self._starts = starts
        # Made on the extractor's loop, which it belongs to: aiohttp's by default.
        self._transport = transport or AiohttpTransport
        self._while_waiting = while_waiting  # run on the calling thread while it waits for an item (logs, say)
        self._loop = asyncio.new_event_loop()
        # Thread-safe and unbounded itself; the credits bound it: the extractor takes one per page it hands over,
        # and the calling thread gives one back per page it takes, so at most `queue_pages` pages wait here.
        self._items: queue.Queue[Item | _Finished] = queue.Queue()
        self._credits = asyncio.Semaphore(queue_pages)
        self._task: asyncio.Task[None] | None = None
        self._task_ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dexory-extractor", daemon=True)

    def __enter__(self) -> ExtractorThread:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __iter__(self) -> Iterator[Item]:
        while True:
            item = self._next()
            if isinstance(item, _Finished):
                if item.error is not None:
                    raise item.error
                return
            yield item

    def close(self) -> None:
        """Cancel the extractor if it is still running and wait for its thread to end."""
        if not self._thread.is_alive():
            return
        self._task_ready.wait()
        task = self._task
        if task is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed since is_alive(): the thread is ending itself
                self._loop.call_soon_threadsafe(task.cancel)
        self._thread.join(JOIN_TIMEOUT_SECONDS)
        if self._thread.is_alive():
            logger.error("the extractor thread did not stop within %.0fs", JOIN_TIMEOUT_SECONDS)

    def _next(self) -> Item | _Finished:
        while True:
            try:
                item = self._items.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                self._while_waiting()
                if not self._thread.is_alive() and self._items.empty():
                    return _Finished(RuntimeError("the extractor thread ended without reporting a result"))
                continue
            if isinstance(item, Page):
                self._give_credit()
            return item

    def _give_credit(self) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: the extractor is done and needs no more credits
            self._loop.call_soon_threadsafe(self._credits.release)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._task = self._loop.create_task(self._produce())
            self._task_ready.set()
            self._loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        finally:
            self._task_ready.set()
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.run_until_complete(self._loop.shutdown_default_executor())  # aiohttp's DNS lookups
            self._loop.close()

    async def _produce(self) -> None:
        try:
            transport = self._transport()
            try:
                await extract(self._settings, self._starts, self._hand_over, transport)
            finally:
                await transport.aclose()
            self._items.put(_Finished())
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self._items.put(_Finished(error))

    async def _hand_over(self, item: Item) -> None:
        if isinstance(item, Page):  # only pages take memory worth bounding
            await self._credits.acquire()
        self._items.put(item)
