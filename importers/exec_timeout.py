"""A time limit for kubeconfig exec credential plugins (`aws eks get-token`, `gke-gcloud-auth-plugin`).

The kubernetes client runs a plugin with `Popen(...).communicate()` and no timeout, when the
client is built and again whenever the token expires: a plugin that hangs (waiting on a network
that never answers, or for a login nobody will complete) hangs the import for ever. The client
offers no hook for this, so the plugin's exec entry is rewritten before the client loads it: this
file, run as a script by the same Python, starts the real plugin with the same arguments,
environment (KUBERNETES_EXEC_INFO included), working directory, stdin, stdout and stderr, and
stops it when the time is up. The client then sees a plugin that failed (exit 124, the message
on stderr), as for any failing plugin, and the import fails cleanly instead of waiting.

Run as a script, this imports nothing but the standard library (`python -I`, no rbacmap).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from contextlib import suppress
from typing import Any

TIMED_OUT = 124  # as timeout(1) exits
SEPARATOR = "--"


def bounded_exec(exec_config: Mapping[str, Any], timeout: float) -> dict[str, Any]:
    """A kubeconfig `user.exec` entry that runs the same plugin, stopped after `timeout` seconds."""
    command = [str(exec_config["command"]), *(str(a) for a in exec_config.get("args") or [])]
    return {**exec_config, "command": sys.executable,
            "args": ["-I", os.path.abspath(__file__), f"{timeout:g}", SEPARATOR, *command]}


def run_bounded(timeout: float, command: Sequence[str]) -> int:
    """Run `command` with this process's stdin, stdout and stderr; its exit status, or TIMED_OUT."""
    # Without a terminal nobody answers a prompt: the plugin gets a process group of its own, so the
    # helpers it started (which would hold the client's stdout pipe open) are stopped with it.
    own_group = os.name == "posix" and not sys.stdin.isatty()
    try:
        process = subprocess.Popen(list(command), process_group=0 if own_group else None)
    except OSError as exc:
        print(f"exec plugin {command[0]!r} could not be started: {exc}", file=sys.stderr)
        return 127
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        _stop(process, own_group)
        print(f"exec plugin {command[0]!r} gave no credentials within {timeout:g} s and was stopped "
              "(rbacmap import kube --exec-timeout)", file=sys.stderr)
        return TIMED_OUT
    except BaseException:  # Ctrl-C: a plugin in its own group would not get it
        _stop(process, own_group)
        raise


def _stop(process: subprocess.Popen[bytes], own_group: bool) -> None:
    with suppress(ProcessLookupError):  # it ended meanwhile
        if own_group:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    process.wait()


def main(argv: Sequence[str]) -> int:
    if len(argv) < 4 or argv[2] != SEPARATOR:
        print(f"usage: {argv[0]} SECONDS {SEPARATOR} COMMAND [ARG...]", file=sys.stderr)
        return 2
    return run_bounded(float(argv[1]), argv[3:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
