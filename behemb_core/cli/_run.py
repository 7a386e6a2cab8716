"""The CLI's end of the error boundary: run a command and turn whatever escapes it into one ``error: …`` line on
stderr and an exit code, using :mod:`behemb_core.boundary`'s descriptions (the library itself never prints)."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable

from ..boundary import describe, unexpected_message


def run_cli(command: Callable[[], int], *, debug: bool = False) -> int:
    """Run a CLI command inside the boundary: its exit code, or 1 after one ``error: …`` line on stderr
    (130 on Ctrl-C). With ``debug`` the traceback is printed before that line."""
    try:
        return command()
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # stdout closed early (`… | head`): not worth a message
        _silence_stdout()
        return 1
    except Exception as exc:  # noqa: BLE001 - this is the boundary
        if debug:
            traceback.print_exc(file=sys.stderr)
        message = describe(exc)
        if message is None:
            message = unexpected_message(exc, hint="" if debug else "run with --debug for the traceback")
        sys.stderr.write(f"error: {message}\n")  # one write: another thread's output cannot split the line
        sys.stderr.flush()
        return 1


def _silence_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # pragma: no cover
        pass
