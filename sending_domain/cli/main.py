"""Entry point of the ``sending-domain`` command: parse arguments, run one command, map errors to exit codes.

Exit codes (README, "Commands"): 0 success; 1 a check failed or drift was found; 2 bad input, configuration or
environment (a missing AWS profile, a file that cannot be read or written); 3 a transient failure — retry;
4 an internal error (a bug: one line on stderr, the traceback only with ``--debug`` or ``SENDING_DOMAIN_DEBUG=1``);
130 interrupted. A reader that goes away (``| head``) never changes the status: the command finishes and exits
with the code its result deserves.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from sending_domain import __version__

DEBUG_ENV = "SENDING_DOMAIN_DEBUG"
INTERNAL_ERROR = 4
INTERRUPTED = 130
REPORT_TO = "please report it to the sending-domain maintainers (the project's issue tracker) with the command you ran"


# Every sub-command: its module (whose register() adds it) and the line `sending-domain --help` shows for it.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("sending_domain.cli.init", "write a starter stack from live DNS (SPF senders, DMARC, DKIM selectors) and pin its senders"),
    "plan": ("sending_domain.cli.plan", "print the records a stack publishes (offline: SPF from the lock)"),
    "spf": ("sending_domain.cli.spf", "SPF flattening and the vendor lock"),
    "verify": ("sending_domain.cli.verify", "check live DNS, SES and a test mail against the stack"),
    "drift": ("sending_domain.cli.drift", "compare live DNS and vendor SPF trees with the stack; exit 1 on drift"),
    "dmarc": ("sending_domain.cli.dmarc", "DMARC aggregate reports: ingest them, and judge the next stage on them"),
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole command line; given ``argv``, only the sub-command it names is imported (the others are stand-ins
    that list themselves in ``--help``), so ``--help`` and argument errors start fast."""
    import importlib

    from sending_domain.cli import help as help_text

    wanted = None if argv is None else next((a for a in argv if not a.startswith("-")), "")
    parser = argparse.ArgumentParser(
        prog="sending-domain",
        formatter_class=help_text.Formatter,
        description="Provision and verify email sending domains: flattened SPF, DKIM, staged DMARC, SES.",
        epilog=(
            "exit codes: 0 success, 1 a check failed or drift found, 2 bad input or configuration, "
            f"3 transient failure (retry), 4 internal error. Environment: {DEBUG_ENV}=1 prints tracebacks; "
            "NO_COLOR and COLUMNS shape human output."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help=f"print the traceback of an internal error (or set {DEBUG_ENV}=1)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, summary) in COMMANDS.items():
        if wanted is None or name == wanted:
            importlib.import_module(module).register(commands)
        else:
            commands.add_parser(name, help=summary)  # a stand-in: never the one that runs
    _add_debug_everywhere(commands)
    help_text.apply(commands)
    return parser


def _add_debug_everywhere(commands: argparse._SubParsersAction) -> None:
    """``--debug`` also after the sub-command (``sending-domain verify --debug``), without overriding one given before."""
    for sub in commands.choices.values():
        if not any("--debug" in a.option_strings for a in sub._actions):
            sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        for action in sub._actions:
            if isinstance(action, argparse._SubParsersAction):
                _add_debug_everywhere(action)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    stdout = sys.stdout
    guarded = sys.stdout = _Stdout(stdout)
    try:
        if argv == ["--version"]:  # the cheapest answer: no command modules imported
            print(f"sending-domain {__version__}")
            code = 0
        else:
            code = _run(argv)
    finally:
        guarded.flush()
        sys.stdout = stdout
    if guarded.error is not None:  # the output was not delivered (a full disk): the caller must not trust it
        print(f"sending-domain: error: cannot write the output: {guarded.error.strerror or guarded.error}", file=sys.stderr)
        return code or 2
    return code


def _run(argv: list[str]) -> int:
    wants_json = "--json" in argv or _format_json(argv)
    try:
        parser = build_parser(argv)
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse: 2 for bad usage (message already on stderr), 0 for --help
        code = int(e.code or 0)
        if code and wants_json:
            from sending_domain.cli.failure import describe

            _json_failure(describe(_Usage(), "usage"), code)
        return code
    debug = bool(getattr(args, "debug", False)) or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    wants_json = bool(getattr(args, "json", False)) or getattr(args, "format", None) == "json"
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("sending-domain: interrupted", file=sys.stderr)
        return INTERRUPTED
    except Exception as error:  # every error ends here: one line (or a JSON error), the right exit code
        from sending_domain.cli.failure import describe

        failure = describe(error)
        if failure.internal:
            print(f"sending-domain: internal error: {failure.message}", file=sys.stderr)
            if debug:
                import traceback

                traceback.print_exception(error, file=sys.stderr)
            else:
                print(f"sending-domain: this is a bug; {REPORT_TO} (run it again with --debug or {DEBUG_ENV}=1 for the traceback)", file=sys.stderr)
        else:
            print(f"sending-domain: error: {failure.message}", file=sys.stderr)
        if wants_json:
            _json_failure(failure, failure.exit_code)
        return failure.exit_code


class _Usage(Exception):
    """the command line is not valid; see the usage message on stderr (`sending-domain COMMAND --help`)"""

    def __str__(self) -> str:
        return (self.__doc__ or "").strip()


def _format_json(argv: list[str]) -> bool:
    return any(a == "--format=json" or (a == "--format" and argv[i + 1 : i + 2] == ["json"]) for i, a in enumerate(argv))


def _json_failure(failure: object, code: int) -> None:
    from sending_domain.cli.common import print_json
    from sending_domain.cli.failure import error_document

    print_json(error_document(failure, code))  # type: ignore[arg-type]


class _Stdout:
    """Standard output that outlives its reader: after a broken pipe (``| head``) further output goes nowhere,
    the command runs on, and its exit status stays the one its result deserves (Python's advice for SIGPIPE:
    point the descriptor at /dev/null so the final flush cannot fail either). Any other write error (a full
    disk) is kept in ``error``: the command still ends in one line, and exits 2 if it would have exited 0."""

    def __init__(self, stream: object) -> None:
        self._stream = stream
        self.broken = False
        self.error: OSError | None = None

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                self._stream.write(text)  # type: ignore[attr-defined]
            except OSError as e:
                self._break(e)
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._stream.flush()  # type: ignore[attr-defined]
            except OSError as e:
                self._break(e)

    def _break(self, error: OSError) -> None:
        self.broken = True
        if not isinstance(error, BrokenPipeError):
            self.error = error
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())  # type: ignore[attr-defined]
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass  # not a real file (a test's capture): nothing will be flushed to a closed pipe later

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
