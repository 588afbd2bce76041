"""Fivetran connector for the Dexory customer API: locations and the inventory objects expected in each.

The only module that touches the Fivetran SDK. `update()` starts the asyncio extractor in a background thread
(`dexory_async.bridge`), which fetches every configured site concurrently, and drains the flattened pages into
`op.upsert` on this thread, checkpointing each site's cursor about once a minute (sooner past a row bound) so an
interrupted sync resumes every site where it stopped.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from fivetran_connector_sdk import ConfigurationForm, Connector, Test, form_field
from fivetran_connector_sdk import Logging as log
from fivetran_connector_sdk import Operations as op

from dexory_async.bridge import ExtractorThread
from dexory_async.cadence import CheckpointCadence
from dexory_async.config import (
    DEFAULT_BASE_URL,
    LIST_SEPARATOR,
    SITE_API_KEY,
    ConfigurationError,
    Settings,
    default_of,
    expected_form,
    parse_settings,
)
from dexory_async.errors import Interrupted
from dexory_async.gc_policy import fewer_gc_passes
from dexory_async.hints import configuration_hints
from dexory_async.interrupts import terminate_as_interrupt
from dexory_async.ledger import SyncLedger
from dexory_async.messages import Item
from dexory_async.page import Page
from dexory_async.probe import check_connection
from dexory_async.redaction import redact_all
from dexory_async.sink import Sink
from dexory_async.tables import LOCATIONS, OBJECTS, SITE_ROUNDS, table_definitions
from dexory_async.transport import TransportFactory

LIBRARY = "dexory_async"
logger = logging.getLogger(f"{LIBRARY}.sync")  # the sync's own lines take the library's path: one thread, masked


def schema(configuration: dict[str, Any]) -> list[dict[str, Any]]:
    return table_definitions()


_TUNING = (  # key, label, what it does; the expected form and the default come from dexory_async.config
    ("page_size", "Page size", "Locations per request (page[size])."),
    (
        "concurrency",
        "Concurrency",
        "Most pages in flight at once, in total across all sites, shared fairly among them; 1 fetches serially. "
        "A site's share is lowered automatically on 429.",
    ),
    ("max_pages", "Maximum pages per site per sync", "Safety stop; the next sync continues where it stopped."),
    (
        "max_retries",
        "Maximum retries",
        "Retries of a failed request (timeouts, 5xx) after the first attempt; 429s are waited out within the "
        "rate-limit patience instead.",
    ),
    (
        "base_retry_delay",
        "Base retry delay",
        "Retry n waits this times 2^n, or the server's Retry-After if longer; a 429 waits its Retry-After.",
    ),
    ("request_timeout_seconds", "Request timeout", "Per request."),
    (
        "rate_limit_patience_seconds",
        "Rate-limit patience",
        "How long one request keeps waiting out 429s (the server's Retry-After), in total, before its site fails; "
        "other failures count against the maximum retries.",
    ),
    ("checkpoint_interval_seconds", "Checkpoint interval", "How often progress is saved for a resume."),
    (
        "checkpoint_max_rows",
        "Rows between checkpoints",
        "Progress is saved sooner once this many rows were written since the last save (bounds memory).",
    ),
)


def configuration_form() -> ConfigurationForm:
    form = ConfigurationForm()
    form.add_field(
        form_field.TextField(
            "site_name",
            "Site names",
            required=True,
            description="Your Dexory site as it appears in DexoryView, or several separated by commas "
            "(paris-dc, lyon-dc): every site lands in the same tables, told apart by the `site` column. Every sync "
            "reads each site in full (a round); `site_rounds` says when each site was last read completely, and a "
            "site's current locations are the rows of its latest complete round.",
        )
    )
    form.add_field(
        form_field.TextField(
            SITE_API_KEY,
            "Site API keys",
            form_field.TextField.password,
            required=True,
            description="One API key for every site, or one per site separated by commas in the order of the site "
            "names. A key is sent only with its own site's requests, and only to the base URL.",
        )
    )
    form.add_field(
        form_field.TextField(
            "base_url",
            "Base URL",
            placeholder=DEFAULT_BASE_URL,
            description=f"Dexory API address for every site; leave empty for {DEFAULT_BASE_URL}. "
            "https:// only (http:// is accepted for this machine alone): keys travel in the query string.",
        )
    )
    form.add_field(
        form_field.TextField(
            "customer", "Customer", description="Optional customer filter, sent as `customer` for every site."
        )
    )
    for key, label, purpose in _TUNING:
        default = f"{default_of(key):g}"
        description = f"{purpose} Applies to every site. {expected_form(key).capitalize()}; default {default}."
        form.add_field(form_field.TextField(key, label, placeholder=default, description=description))
    form.add_test(label="Fetch one location of each site with its key", func=connection_test)
    return form


def connection_test(configuration: dict[str, Any]) -> Any:
    """The setup form's test: the configuration is valid and the API answers for every site with its key."""
    with LibraryLogs(_configured_keys(configuration), _write):  # configuration warnings, in the SDK's log format
        try:
            settings = parse_settings(configuration)
        except ConfigurationError as error:
            return Test.failure(str(error))
    errors = check_connection(settings)
    if not errors:
        return Test.success()
    lines = [f"site {name!r}: {error}" for name, error in errors.items()]
    return Test.failure("\n".join([*lines, *configuration_hints(settings, errors)]))


def update(configuration: dict[str, Any], state: dict[str, Any]) -> None:
    sync(configuration, state, OperationsSink())


def sync(
    configuration: dict[str, Any], state: dict[str, Any], sink: Sink, transport: TransportFactory | None = None
) -> None:
    """`update()` with its sink and transport as parameters: the SDK's operations over aiohttp in production; a
    recording sink and an in-memory API in tests, through every line `update()` runs."""
    with sync_context(configuration, sink) as write_logs:
        Sync(parse_settings(configuration), state, sink, write_logs=write_logs, transport=transport).run()


@contextmanager
def sync_context(configuration: dict[str, Any], sink: Sink) -> Iterator[Callable[[], None]]:
    """What a sync runs within: the library's logs routed to the sink with every key masked (yields the function that
    writes them), fewer garbage-collector passes, and SIGTERM taken as SIGINT, so that either saves progress."""
    with (
        LibraryLogs(_configured_keys(configuration), sink.log) as logs,
        fewer_gc_passes(),
        terminate_as_interrupt(),
    ):
        yield logs.write


def _configured_keys(configuration: dict[str, Any]) -> list[str]:
    """Every key the configuration may hold, whole and split, for masking before the configuration is parsed."""
    raw = str(configuration.get(SITE_API_KEY) or "")
    return [raw, *(part.strip() for part in raw.split(LIST_SEPARATOR))]


class LibraryLogs(logging.Handler):
    """The log records of the extractor library and of the sync, from any thread, written through `log` on the
    calling thread only (writes from two threads can interleave mid-line), with every key masked."""

    def __init__(self, secrets: list[str], log: Callable[[int, str], None]) -> None:
        super().__init__()
        self._log = log
        self._secrets = [secret for secret in secrets if secret]
        self._records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        self._library = logging.getLogger(LIBRARY)
        self._previous = (self._library.level, self._library.propagate)

    def emit(self, record: logging.LogRecord) -> None:
        self._records.put(record)

    def write(self) -> None:
        """Write what was logged so far, in order; call it on the calling thread."""
        while True:
            try:
                record = self._records.get_nowait()
            except queue.Empty:
                return
            self._log(record.levelno, redact_all(record.getMessage(), self._secrets))

    def __enter__(self) -> LibraryLogs:
        self._library.addHandler(self)
        self._library.setLevel(logging.INFO)
        self._library.propagate = False
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.write()
        self._library.removeHandler(self)
        self._library.setLevel(self._previous[0])
        self._library.propagate = self._previous[1]


def _write(level: int, message: str) -> None:
    if level >= logging.CRITICAL:
        log.critical(message)
    elif level >= logging.ERROR:
        log.error(message)
    elif level >= logging.WARNING:
        log.warning(message)
    elif level >= logging.INFO:
        log.info(message)
    else:
        log.debug(message)


class OperationsSink:
    """The production sink: the SDK's operations, and its Logging for log lines."""

    upsert = staticmethod(op.upsert)
    delete = staticmethod(op.delete)
    checkpoint = staticmethod(op.checkpoint)
    log = staticmethod(_write)


class Sync:
    """One run of `update()`, the bridge from the extractor to `sink`: upserts each page, writes each site's round to
    `site_rounds`, checkpoints every site's cursor behind its rows, and fails at the end, naming them, if any site
    failed. `consume` and `finish` are the whole path from pages to the warehouse."""

    def __init__(
        self,
        settings: Settings,
        state: dict[str, Any],
        sink: Sink,
        *,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        write_logs: Callable[[], None] = lambda: None,
        transport: TransportFactory | None = None,
    ) -> None:
        self.settings = settings
        self._transport = transport
        self.ledger = SyncLedger(settings, state, now)
        self._sink = sink
        self._cadence = CheckpointCadence(settings.checkpoint_interval_seconds, settings.checkpoint_max_rows, clock)
        self._write_logs = write_logs

    def run(self) -> None:
        logger.info(
            "syncing Dexory sites %s from %s; settings %s",
            self.settings.site_names,
            self.settings.base_url,
            self.settings.describe(),
        )
        starts = self.ledger.starts()
        with ExtractorThread(
            self.settings, starts, while_waiting=self._while_waiting, transport=self._transport
        ) as extractor:
            self.start()  # the first pages are on their way while the opening checkpoint commits
            self.consume(extractor)
        self.finish()

    def start(self) -> None:
        """Record the rounds this sync starts or resumes, and save them: a kill before the first page keeps them."""
        for row in self.ledger.round_rows():
            self._sink.upsert(SITE_ROUNDS, row)
        self._checkpoint(self.ledger.checkpoint_state())

    def consume(self, items: Iterable[Item]) -> None:
        """Upsert what the extractor hands on; on a failure of the whole sync, save what was synced, and re-raise."""
        try:
            for item in items:
                if isinstance(item, Page):
                    self._upsert(item)
                ended = self.ledger.record(item)
                if ended is not None:
                    self._sink.upsert(SITE_ROUNDS, ended)
                if isinstance(item, Page) and self._cadence.due():
                    self._checkpoint(self.ledger.checkpoint_state())
                self._write_logs()
        except KeyboardInterrupt as interruption:
            signal_name = str(interruption) or "SIGINT"
            self._save_on_failure(f"interrupted ({signal_name})")
            raise Interrupted(f"interrupted ({signal_name}); progress saved, the next sync resumes") from None
        except Exception:
            self._save_on_failure("sync failed")
            raise

    def finish(self) -> None:
        """The closing checkpoint and summary; then one error naming every site that failed."""
        self._checkpoint(self.ledger.closing_state())
        logger.info("%s", self.ledger.summary())
        self._write_logs()
        error = self.ledger.closing_error()
        if error is not None:
            raise error

    def _while_waiting(self) -> None:
        self.ledger.tick()
        self._write_logs()

    def _upsert(self, page: Page) -> None:
        upsert, rows = self._sink.upsert, page.rows
        for row in rows.locations:
            upsert(LOCATIONS, row)
        for row in rows.objects:
            upsert(OBJECTS, row)
        for keys in rows.superseded:
            self._sink.delete(OBJECTS, keys)
        self._cadence.wrote(len(rows.locations) + len(rows.objects))

    def _checkpoint(self, state: dict[str, Any]) -> None:
        self._sink.checkpoint(state)
        self._cadence.saved()

    def _save_on_failure(self, what: str) -> None:
        """Keep what was synced before the failure, so the next sync resumes rather than starts over."""
        try:
            self._checkpoint(self.ledger.checkpoint_state())
            logger.warning("%s; progress saved, the next sync resumes every site where it stopped", what)
        except Exception as checkpoint_error:  # the original failure is the one to report
            logger.warning("could not save progress after the failure: %s", checkpoint_error)
        self._write_logs()


connector = Connector(update=update, schema=schema, configuration_form=configuration_form)

if __name__ == "__main__":
    connector.debug()
