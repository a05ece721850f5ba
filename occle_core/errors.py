"""Errors raised on bad input. They always name the offending file, topic or field."""

from __future__ import annotations

from os import PathLike


class DataFormatError(ValueError):
    """Input that does not match the format we expect.

    Args:
        source: the file, topic or field that is wrong.
        problem: what was found.
        expected: what was expected instead.
    """

    def __init__(self, source: str | PathLike[str], problem: str, expected: str | None = None):
        self.source = str(source)
        self.problem = problem
        self.expected = expected
        message = f"{self.source}: {problem}"
        if expected:
            message += f" (expected {expected})"
        super().__init__(message)


class ConfigError(DataFormatError):
    """A configuration value or command-line option that cannot be right (a zero batch size, a
    negative learning rate, a device this machine lacks, a run folder that would be overwritten).

    Args:
        source: the configuration file, option or key.
        problem: what was found.
        expected: what was expected instead.
    """
