"""Errors that mean "your input is wrong", as opposed to bugs.

The CLI prints these as one line naming the file or config key, without a traceback, and exits 2.
"""


class UserError(Exception):
    """Bad input, config or archive: the message says which file or key and what is wrong."""


class DataError(UserError):
    """A dataset file is missing, unreadable or inconsistent; the message names the file."""


class ConfigError(UserError):
    """A config key is missing, unknown or has a bad value; the message names the key."""
