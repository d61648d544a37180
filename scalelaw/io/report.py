"""What ``read_logs`` tells the user about data it could not keep.

Every reader records a message here instead of warning on the spot: the messages are warned
once, from ``read_logs`` itself (so the warning points at the caller's line), and also stored
in ``df.attrs["skipped"]`` so an app can show them next to the data. Files scalelaw itself
writes beside logs (READMEs, sweep indexes and specs) are listed in ``df.attrs["ignored"]``.
"""

from __future__ import annotations

import warnings


class ReadLogsWarning(UserWarning):
    """Something in a log was skipped, replaced or ignored; the message names the file and why."""


class Report:
    """Collects the messages of one ``read_logs`` call.

    Attributes
    ----------
    messages : list of str
        Each message names the file (and line or byte offset where it applies) and what was
        skipped and why, in the order the readers produced them.
    headers : dict
        Run name (or a placeholder until the run is named) -> run header dict.
    """

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.ignored: list[str] = []  # scalelaw's own files beside the logs: no warning

    def ignore(self, message: str) -> None:
        """Record a file skipped on purpose (kept in ``df.attrs["ignored"]``, never warned)."""
        if message not in self.ignored:
            self.ignored.append(message)

    def skip(self, message: str) -> None:
        """Record one message (warned later by :meth:`emit`)."""
        if message not in self.messages:
            self.messages.append(message)

    def emit(self, stacklevel: int = 2) -> None:
        """Warn every recorded message as a :class:`ReadLogsWarning`."""
        for message in self.messages:
            warnings.warn(message, ReadLogsWarning, stacklevel=stacklevel)


def preview(values, limit: int = 5) -> str:
    """A short, readable list of values for messages: ``3, 4, 7, ... (12 in all)``."""
    values = list(values)
    shown = ", ".join(str(v) for v in values[:limit])
    if len(values) > limit:
        shown += f", ... ({len(values)} in all)"
    return shown
