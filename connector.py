"""Fivetran connector for the Dexory customer API: locations and the inventory objects expected in each.

The only module that touches the Fivetran SDK. `update()` starts the asyncio extractor in a background thread
(`dexory_async.bridge`) and drains its flattened pages into `op.upsert` on this thread, checkpointing every
`checkpoint_every_pages` pages so an interrupted sync resumes where it stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fivetran_connector_sdk import ConfigurationForm, Connector, Test, form_field
from fivetran_connector_sdk import Logging as log
from fivetran_connector_sdk import Operations as op

from dexory_async.bridge import ExtractorThread
from dexory_async.config import (
    DEFAULT_BASE_URL,
    ConfigurationError,
    Settings,
    default_of,
    expected_form,
    parse_settings,
)
from dexory_async.errors import PaginationError
from dexory_async.extractor import FlatPage
from dexory_async.gc_policy import fewer_gc_passes
from dexory_async.probe import check_connection
from dexory_async.progress import SyncProgress
from dexory_async.redaction import redact
from dexory_async.state import checkpoint_state, finished_state, start_url
from dexory_async.tables import LOCATIONS, OBJECTS, table_definitions

PROGRESS_EVERY_PAGES = 10


def schema(configuration: dict[str, Any]) -> list[dict[str, Any]]:
    return table_definitions()


_TUNING = (  # key, label, what it does; the expected form and the default come from dexory_async.config
    ("page_size", "Page size", "Locations per request (page[size])."),
    ("concurrency", "Concurrency", "Most pages in flight at once; 1 fetches serially. Lowered automatically on 429."),
    ("max_pages", "Maximum pages per sync", "Safety stop; the next sync continues where it stopped."),
    ("max_retries", "Maximum retries", "Retries of a failed request (timeouts, 429, 5xx) after the first attempt."),
    ("base_retry_delay", "Base retry delay", "Retry n waits this times 2^n, or the server's Retry-After if longer."),
    ("request_timeout_seconds", "Request timeout", "Per request."),
    ("checkpoint_every_pages", "Checkpoint every N pages", "How often progress is saved for a resume."),
)


def configuration_form() -> ConfigurationForm:
    form = ConfigurationForm()
    form.add_field(
        form_field.TextField(
            "site_name", "Site name", required=True, description="Your Dexory site, as it appears in DexoryView."
        )
    )
    form.add_field(
        form_field.TextField(
            "site_api_key",
            "Site API key",
            form_field.TextField.password,
            required=True,
            description="The API key of that site; it is sent only to the base URL.",
        )
    )
    form.add_field(
        form_field.TextField(
            "base_url",
            "Base URL",
            placeholder=DEFAULT_BASE_URL,
            description=f"Dexory API address; leave empty for {DEFAULT_BASE_URL}.",
        )
    )
    form.add_field(
        form_field.TextField(
            "customer", "Customer", description="Optional customer filter, sent as the `customer` parameter."
        )
    )
    for key, label, purpose in _TUNING:
        default = f"{default_of(key):g}"
        description = f"{purpose} {expected_form(key).capitalize()}; default {default}."
        form.add_field(form_field.TextField(key, label, placeholder=default, description=description))
    form.add_test(label="Fetch one location with this site and key", func=connection_test)
    return form


def connection_test(configuration: dict[str, Any]) -> Any:
    """The setup form's test: the configuration is valid and the API answers for this site and key."""
    try:
        settings = parse_settings(configuration)
    except ConfigurationError as error:
        return Test.failure(str(error))
    failure = check_connection(settings)
    return Test.success() if failure is None else Test.failure(failure)


def update(configuration: dict[str, Any], state: dict[str, Any]) -> None:
    with library_logs_to_fivetran(str(configuration.get("site_api_key") or "")), fewer_gc_passes():
        settings = parse_settings(configuration)
        Sync(settings, state).run()


class _FivetranLogHandler(logging.Handler):
    """Forwards the extractor library's log records to the SDK's Logging, with the key masked."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self._secret = secret

    def emit(self, record: logging.LogRecord) -> None:
        message = redact(record.getMessage(), self._secret)
        if record.levelno >= logging.CRITICAL:
            log.critical(message)
        elif record.levelno >= logging.ERROR:
            log.error(message)
        elif record.levelno >= logging.WARNING:
            log.warning(message)
        elif record.levelno >= logging.INFO:
            log.info(message)
        else:
            log.debug(message)


@contextmanager
def library_logs_to_fivetran(secret: str) -> Iterator[None]:
    library = logging.getLogger("dexory_async")
    handler = _FivetranLogHandler(secret)
    previous = (library.level, library.propagate)
    library.addHandler(handler)
    library.setLevel(logging.INFO)
    library.propagate = False
    try:
        yield
    finally:
        library.removeHandler(handler)
        library.setLevel(previous[0])
        library.propagate = previous[1]


class Sync:
    """One run of `update()`: upserts each page, checkpoints behind it, and reports progress."""

    def __init__(self, settings: Settings, state: dict[str, Any]) -> None:
        self.settings = settings
        self.start, resumed = start_url(settings, state)
        self.progress = SyncProgress.resumed_from(state) if resumed else SyncProgress()
        self.cursor: str | None = str(self.start)  # the next page to fetch once every row so far is upserted
        self._unsaved_pages = 0

    def run(self) -> None:
        log.info(
            f"syncing Dexory site {self.settings.site_name!r} from {self.settings.base_url}; "
            f"settings {self.settings.describe()}"
        )
        extractor = ExtractorThread(self.settings, self.start)
        with extractor:
            try:
                for page in extractor:
                    self._upsert(page)
            except Exception as error:
                self._save_on_failure(error)
                raise
        summary = extractor.summary
        if summary is not None and summary.stopped_at_max_pages is not None:
            self._checkpoint(summary.stopped_at_max_pages)
            log.warning(
                f"stopped after max_pages={self.settings.max_pages}: the sync is incomplete; "
                "the next sync continues where this one stopped"
            )
        else:
            op.checkpoint(finished_state())
        log.info(self.progress.summary(summary))

    def _upsert(self, page: FlatPage) -> None:
        upsert = op.upsert
        for row in page.locations:
            upsert(LOCATIONS, row)
        for row in page.objects:
            upsert(OBJECTS, row)
        self.cursor = page.next_url
        self.progress.add(page)
        self._unsaved_pages += 1
        if self._unsaved_pages >= self.settings.checkpoint_every_pages and self.cursor is not None:
            self._checkpoint(self.cursor)
        if self.progress.pages_this_run % PROGRESS_EVERY_PAGES == 0:
            log.info(self.progress.progress_line())

    def _checkpoint(self, cursor: str, *, without_last_page: bool = False) -> None:
        op.checkpoint(checkpoint_state(cursor, self.progress.state_counts(without_last_page=without_last_page)))
        self._unsaved_pages = 0

    def _save_on_failure(self, error: Exception) -> None:
        """Keep what was synced before failing, so the next sync resumes rather than starts over."""
        refused_link = isinstance(error, PaginationError)
        cursor = error.resume_url if refused_link else self.cursor
        if cursor is None or not (refused_link or self._unsaved_pages):
            return
        try:
            self._checkpoint(cursor, without_last_page=refused_link)  # a refused link's page is read again
            log.warning(f"sync failed after {self.progress.pages:,} pages; progress saved, the next sync resumes")
        except Exception as checkpoint_error:  # the original failure is the one to report
            log.warning(f"could not save progress after the failure: {checkpoint_error}")


connector = Connector(update=update, schema=schema, configuration_form=configuration_form)

if __name__ == "__main__":
    connector.debug()
