"""Exceptions that carry a readable, user-facing message.

Anything raised as a :class:`JaxmmError` is printed by the CLI as a single
line (``error: ...``) without a traceback. Each message names what is wrong
and where (file, key, row) so the user can fix it without reading code.
"""


class JaxmmError(Exception):
    """Base class for errors caused by user input, shown without a traceback."""


class ConfigError(JaxmmError):
    """A configuration file or command-line override is invalid."""


class CheckpointError(JaxmmError):
    """A checkpoint or run directory is missing, corrupt or incompatible."""


class DataError(JaxmmError):
    """A market-data file is missing or malformed."""


EXIT_INPUT_ERROR = 2
EXIT_INTERRUPTED = 130


def run_guarded(fn, *args) -> int:
    """Run ``fn(*args)``; input errors print one line (exit 2), Ctrl-C exits 130, no traceback."""
    import sys

    try:
        fn(*args)
    except JaxmmError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0
