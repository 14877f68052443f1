"""Console logging and progress: a rich bar on a terminal, periodic log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from contextlib import contextmanager

from rich.console import Console
from rich.logging import RichHandler

log = logging.getLogger("idelearn")


def console_log_handler() -> logging.Handler:
    """Rich log handler on stderr (named in conf/hydra/job_logging/rich.yaml)."""
    return RichHandler(console=Console(stderr=True), show_path=False, rich_tracebacks=False)


@contextmanager
def progress(description: str, total: int, every_s: float = 10.0, bar: bool = True):
    """Yield a callback `update(n_done)`.

    On a terminal (and `bar`): a rich progress bar. Otherwise (CI, files, parallel
    jobs, whose workers may share the terminal): a log line at most every
    `every_s` seconds, so logs stay readable.
    """
    if bar and sys.stderr.isatty():
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                       TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True), transient=True)
        with bar:
            task = bar.add_task(description, total=total)
            yield lambda n: bar.update(task, completed=n)
        return
    last = [time.monotonic()]

    def update(n: int) -> None:
        now = time.monotonic()
        if now - last[0] >= every_s:
            last[0] = now
            log.info("%s: %d/%d (%.0f%%)", description, n, total, 100.0 * n / max(total, 1))

    yield update
