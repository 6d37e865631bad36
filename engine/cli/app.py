"""Typer applications that command modules attach to (see ``engine.cli.main``), the documented
exit codes, and the one way a command fails: ``raise CliFailure(...)``, printed as ``error: ...``
on stderr, or as one JSON object on stdout when the command line has ``--json``."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Sequence
from enum import IntEnum
from importlib import metadata
from typing import Annotated, Any

import typer
from typer.core import TyperGroup, TyperOption

from engine.errors import KaziError


class ExitCode(IntEnum):
    """What ``kazi`` exits with (documented in ``kazi --help`` and the README)."""

    OK = 0
    FAILED = 1  # the job failed, or an unexpected error
    BAD_INPUT = 2  # unknown flag, missing argument, invalid spec or file
    TIMEOUT = 3  # --wait gave up before the job settled
    NOT_FOUND = 4  # no such job or worker
    NOT_READY = 5  # the job exists but has nothing to fetch yet


EXIT_CODES_HELP = (
    "Exit codes: 0 done; 1 the job failed (or an unexpected error); 2 bad input (flags, spec, "
    "files); 3 timed out waiting; 4 not found; 5 not ready yet (no deliverables). With --json, "
    'an error is one JSON object on stdout: {"code": ..., "detail": ..., "exit_code": ...}.'
)


class CliFailure(Exception):
    """A command's failure: its message, exit code and a machine-readable code."""

    def __init__(self, message: str, exit_code: ExitCode, code: str) -> None:
        super().__init__(message)
        self.message, self.exit_code, self.code = message, exit_code, code

    @classmethod
    def from_error(cls, error: KaziError) -> CliFailure:
        missing = error.status == 404
        return cls(error.message, ExitCode.NOT_FOUND if missing else ExitCode.BAD_INPUT, error.code)


def _print_error(message: str, exit_code: int, code: str, as_json: bool) -> None:
    if as_json:
        body = {"code": code, "detail": message, "exit_code": exit_code}
        sys.stdout.write(json.dumps(body) + "\n")
        sys.stdout.flush()
    else:
        sys.stderr.write(f"error: {message}\n")


class KaziGroup(TyperGroup):
    """Answers every failure the same way, in JSON when ``--json`` is on the command line
    (usage errors included: a script asking for JSON never has to parse usage text)."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        if not standalone_mode:  # the caller handles errors and exit codes itself
            return super().main(argv, prog_name, complete_var, standalone_mode, **extra)
        as_json = "--json" in argv
        try:
            if not as_json:
                return super().main(argv, prog_name, complete_var, True, **extra)
            result = super().main(argv, prog_name, complete_var, False, **extra)
            sys.exit(result if isinstance(result, int) else ExitCode.OK)
        except CliFailure as failure:
            _print_error(failure.message, failure.exit_code, failure.code, as_json)
            sys.exit(failure.exit_code)
        except typer.TyperException as error:  # a usage error (JSON mode; typer prints others)
            _print_error(error.format_message(), error.exit_code, "bad_input", True)
            sys.exit(error.exit_code)
        except typer.Abort:
            _print_error("aborted", ExitCode.FAILED, "aborted", True)
            sys.exit(ExitCode.FAILED)
        except Exception as error:
            if not as_json:
                raise
            traceback.print_exc()  # for whoever debugs it; stdout keeps the one JSON object
            _print_error(str(error) or type(error).__name__, ExitCode.FAILED, "internal", True)
            sys.exit(ExitCode.FAILED)


def _flag_type(self: TyperOption, ctx: Any) -> str | None:
    # Typer labels on/off flags "<bool>" as if they took a value; a flag takes none.
    if self.is_flag:
        return None
    return _typed_option(self, ctx)


_typed_option = TyperOption.display_type_rich
TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign]


def kazi_version() -> str:
    try:
        return metadata.version("kazi")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


app = typer.Typer(
    cls=KaziGroup,
    help="Kazi: annotation and transcription task-processing engine.",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
)
eval_app = typer.Typer(
    help="Evaluate the engine's ASR and consensus on real data.", no_args_is_help=True
)
app.add_typer(eval_app, name="eval")


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"kazi {kazi_version()}")
        raise typer.Exit()


@app.callback()
def _global_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Show the version and exit"
        ),
    ] = False,
) -> None:
    """Kazi: annotation and transcription task-processing engine."""


def examples(*lines: str) -> str:
    """A command's epilog: example command lines, one per line."""
    return "Examples:\n\n" + "\n\n".join(f"  $ {line}" for line in lines)
