"""The one error type of scan ingestion: a message and the place in the file (`pages[12].violations[3]`)."""

from __future__ import annotations


class AxeResultsError(ValueError):
    def __init__(self, message: str, path: str = ""):
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)
