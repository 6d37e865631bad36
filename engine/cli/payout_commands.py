"""``kazi payouts`` (runs, results), ``kazi staff`` (staff keys) and ``kazi workers
payout-method`` (a worker's payout method, its confirmation code)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from engine.cli.app import CliFailure, ExitCode, app, examples
from engine.cli.worker_commands import workers_app

payouts_app = typer.Typer(help="Payouts to workers (M-Pesa, MTN MoMo, CSV).", no_args_is_help=True)
staff_app = typer.Typer(help="Programme staff keys (the staff API).", no_args_is_help=True)
method_app = typer.Typer(help="A worker's payout method.", no_args_is_help=True)
app.add_typer(payouts_app, name="payouts")
app.add_typer(staff_app, name="staff")
workers_app.add_typer(method_app, name="payout-method")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object")]


def _echo(out: dict[str, Any] | list[Any], as_json: bool, lines: list[str]) -> None:
    if as_json:
        typer.echo(json.dumps(out, default=str))
    else:
        for line in lines:
            typer.echo(line)


def _fail(error: Any) -> CliFailure:
    return CliFailure.from_error(error)


@payouts_app.command(
    "run",
    epilog=examples(
        "kazi payouts run --currency KES --min-amount 100.00 --provider mpesa",
        "kazi payouts run --currency KES --benefits --json",
        "kazi payouts run --currency KES --provider csv:equity --export-dir ./exports",
    ),
)
def payouts_run(
    currency: Annotated[str, typer.Option(help="ISO 4217 code, e.g. KES")],
    min_amount: Annotated[
        str | None, typer.Option(help="Pay balances of at least this (decimal, e.g. 100.00)")
    ] = None,
    provider: Annotated[
        str | None,
        typer.Option(
            help="Only methods of this provider (mpesa, mtn_momo, csv:x); it must pay the "
            "currency (mpesa: KES only; mtn_momo: KAZI_MOMO_CURRENCIES)"
        ),
    ] = None,
    benefits: Annotated[
        bool, typer.Option("--benefits", help="Pay out benefits savings (a withdrawal run)")
    ] = False,
    export_dir: Annotated[
        Path | None, typer.Option(help="Where CSV exports are written (default: var dir)")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Open a batch, post one payout per payable worker, send them (and any unsent ones)."""
    from engine.bootstrap import get_context
    from engine.errors import KaziError
    from engine.payouts.payout_settings import payout_settings
    from engine.payouts.providers.registry import ProviderRegistry
    from engine.payouts.service import CallbackUrls, RunRequest, run_payouts

    ctx = get_context()
    settings = payout_settings()
    request = RunRequest(currency, min_amount, provider, benefits, requested_by="cli")
    try:
        report = run_payouts(
            ctx.uow,
            request,
            ProviderRegistry(ctx.settings, settings),
            settings,
            ctx.token_cipher,
            CallbackUrls(ctx.settings.public_url, ctx.settings.signing_secret),
        )
    except KaziError as error:
        raise _fail(error) from error
    files = {}
    folder = export_dir or ctx.settings.var_dir / "payout-exports"
    for name, text in report.exports.items():
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{report.batch_id}-{name.replace(':', '-')}.csv"
        path.write_text(text)
        path.chmod(0o600)  # it holds phone numbers
        files[name] = str(path)
    out = {**report.as_json(), "export_files": files}
    lines = [f"batch {report.batch_id} ({report.currency}, {report.source}): {report.state}"]
    lines += [
        f"  paid {p['worker_id']}: {p['net']['text']} via {p['provider']}"
        f" (+{p['benefits']['text']} saved)"
        for p in report.paid
    ]
    lines += [
        f"  skipped {s['worker_id']}: {s['reason']}"
        + (f" ({s['detail']})" if "detail" in s else "")
        for s in report.skipped
    ]
    lines += [f"  sent {k}: {v}" for k, v in report.sent.items()]
    lines += [f"  export {k}: {v}" for k, v in files.items()]
    _echo(out, as_json, lines)


@payouts_app.command("reconcile", epilog=examples("kazi payouts reconcile --json"))
def payouts_reconcile(as_json: JsonFlag = False) -> None:
    """Ask providers with a status query (MTN MoMo) about payouts still waiting."""
    from engine.bootstrap import get_context
    from engine.payouts.payout_settings import payout_settings
    from engine.payouts.providers.registry import ProviderRegistry
    from engine.payouts.service import reconcile

    ctx = get_context()
    reports = reconcile(ctx.uow, ProviderRegistry(ctx.settings, payout_settings()))
    rows = [
        {"payout_id": r.payout_id, "outcome": r.outcome.value, "state": r.state} for r in reports
    ]
    _echo(
        {"results": rows},
        as_json,
        [f"{r['payout_id']}: {r['outcome']} ({r['state']})" for r in rows],
    )


@payouts_app.command("show", epilog=examples("kazi payouts show <batch id> --json"))
def payouts_show(
    batch_id: Annotated[str, typer.Argument(help="The batch id")], as_json: JsonFlag = False
) -> None:
    """A batch and its payouts."""
    from engine.bootstrap import get_context
    from engine.errors import KaziError
    from engine.payouts.service import batch_view

    try:
        with get_context().uow() as uow:
            view = batch_view(uow, batch_id)
    except KaziError as error:
        raise _fail(error) from error
    lines = [f"batch {view['batch_id']}: {view['state']}"]
    lines += [f"  {p['payout_id']} {p['state']:<10} {p['net']['text']}" for p in view["payouts"]]
    _echo(view, as_json, lines)


@payouts_app.command("export", epilog=examples("kazi payouts export <batch id> --out ./exports"))
def payouts_export(
    batch_id: Annotated[str, typer.Argument(help="The batch id")],
    out: Annotated[Path, typer.Option(help="Folder for the CSV files")],
    as_json: JsonFlag = False,
) -> None:
    """Write a batch's CSV export again (its exported payouts)."""
    from engine.bootstrap import get_context
    from engine.payouts.service import export_batch

    ctx = get_context()
    with ctx.uow() as uow:
        files = export_batch(uow, batch_id, ctx.token_cipher)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, text in files.items():
        path = out / f"{batch_id}-{name.replace(':', '-')}.csv"
        path.write_text(text)
        path.chmod(0o600)
        written[name] = str(path)
    _echo({"files": written}, as_json, [f"{k}: {v}" for k, v in written.items()])


@payouts_app.command(
    "import-results", epilog=examples("kazi payouts import-results results.csv --json")
)
def payouts_import_results(
    file: Annotated[Path, typer.Argument(help="The provider's result file (CSV)")],
    as_json: JsonFlag = False,
) -> None:
    """Settle payouts from a result file; refused rows are reported (exit 2), never applied."""
    from engine.bootstrap import get_context
    from engine.payouts.providers.csv_export import ResultFileError
    from engine.payouts.result_import import import_results

    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise CliFailure(f"cannot read {file}: {error}", ExitCode.BAD_INPUT, "bad_input") from None
    try:
        report = get_context().in_unit_of_work(import_results, text)
    except ResultFileError as error:
        raise CliFailure(str(error), ExitCode.BAD_INPUT, "bad_result_file") from None
    lines = [f"applied {report.applied}, duplicates {report.duplicates}"]
    lines += [
        f"  refused line {r['line']} ({r['payout_id']}): {r['reason']}" for r in report.refused
    ]
    _echo(report.as_json(), as_json, lines)
    if not report.clean:
        raise typer.Exit(ExitCode.BAD_INPUT)


# -- staff ------------------------------------------------------------------------------------


@staff_app.command(
    "add", epilog=examples("kazi staff add wanjiru", "kazi staff add wanjiru --json")
)
def staff_add(
    name: Annotated[str, typer.Argument(help="Short unique name")], as_json: JsonFlag = False
) -> None:
    """Make a staff key (printed once: only its hash is kept)."""
    from engine.bootstrap import get_context
    from engine.staff.service import StaffError, add_staff

    try:
        issued = get_context().in_unit_of_work(add_staff, name)
    except StaffError as error:
        raise _fail(error) from error
    out = {"id": issued.id, "name": issued.name, "api_key": issued.api_key}
    _echo(out, as_json, [f"name: {issued.name}", f"staff key (shown once): {issued.api_key}"])


@staff_app.command("revoke", epilog=examples("kazi staff revoke wanjiru"))
def staff_revoke(
    name: Annotated[str, typer.Argument(help="The staff member")], as_json: JsonFlag = False
) -> None:
    """Revoke a staff key at once."""
    from engine.bootstrap import get_context
    from engine.staff.service import StaffError, revoke_staff

    try:
        get_context().in_unit_of_work(revoke_staff, name)
    except StaffError as error:
        raise _fail(error) from error
    _echo({"name": name, "revoked": True}, as_json, [f"{name}: revoked"])


# -- workers payout-method --------------------------------------------------------------------


def _worker_id(uow: Any, handle: str) -> str:
    worker = uow.workers.by_handle(handle)
    if worker is None:
        raise CliFailure(f"no worker {handle!r}", ExitCode.NOT_FOUND, "worker_not_found")
    return str(worker.id)


@method_app.command(
    "set",
    epilog=examples(
        "kazi workers payout-method set amina.k --provider mpesa --msisdn +254712345678 "
        "--account-name 'Amina K'"
    ),
)
def method_set(
    handle: Annotated[str, typer.Argument(help="The worker's handle")],
    provider: Annotated[str, typer.Option(help="mpesa | mtn_momo | csv:<label>")],
    msisdn: Annotated[str, typer.Option(help="Mobile number, international form")],
    account_name: Annotated[str, typer.Option(help="Name on the account")],
    region: Annotated[str | None, typer.Option(help="Country of a local number (KE)")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Register a worker's payout method for them (it needs its code to be confirmed)."""
    from engine.bootstrap import get_context
    from engine.payouts.service import PayoutError, register_method

    ctx = get_context()
    with ctx.uow() as uow:
        try:
            info = register_method(
                uow, _worker_id(uow, handle), provider, msisdn, account_name,
                ctx.token_cipher, default_region=region,
            )  # fmt: skip
        except PayoutError as error:
            raise _fail(error) from error
        uow.commit()
    _echo(
        info.as_json(), as_json, [f"{handle}: {info.provider} {info.msisdn_masked} ({info.state})"]
    )


@method_app.command("code", epilog=examples("kazi workers payout-method code amina.k"))
def method_code(
    handle: Annotated[str, typer.Argument(help="The worker's handle")], as_json: JsonFlag = False
) -> None:
    """Show the confirmation code of a worker's pending method, to give to the worker in
    person or by phone after checking who they are (there is no SMS gateway here)."""
    from engine.bootstrap import get_context
    from engine.payouts.service import pending_code

    ctx = get_context()
    with ctx.uow() as uow:
        code = pending_code(uow, _worker_id(uow, handle), ctx.token_cipher)
    if code is None:
        raise CliFailure(
            f"{handle} has no method waiting for a code", ExitCode.NOT_FOUND, "no_pending_method"
        )
    _echo({"handle": handle, "code": code}, as_json, [f"{handle}: {code}"])


@method_app.command("confirm", epilog=examples("kazi workers payout-method confirm amina.k 123456"))
def method_confirm(
    handle: Annotated[str, typer.Argument(help="The worker's handle")],
    code: Annotated[str, typer.Argument(help="The 6-digit code the worker read back")],
    as_json: JsonFlag = False,
) -> None:
    """Confirm a worker's method with the code the worker read back."""
    from engine.bootstrap import get_context
    from engine.payouts.payout_settings import payout_settings
    from engine.payouts.service import ConfirmOutcome, PayoutError, confirm_method

    ctx = get_context()
    with ctx.uow() as uow:
        try:
            done = confirm_method(
                uow, _worker_id(uow, handle), code, ctx.token_cipher, payout_settings()
            )
        except PayoutError as error:
            raise _fail(error) from error
        uow.commit()
    if done.outcome not in (ConfirmOutcome.CONFIRMED, ConfirmOutcome.ALREADY):
        raise CliFailure(
            f"{done.outcome.value} ({done.attempts_left} attempt(s) left)",
            ExitCode.BAD_INPUT,
            done.outcome.value,
        )
    _echo({**done.method.as_json(), "outcome": done.outcome.value}, as_json,
          [f"{handle}: {done.outcome.value}"])  # fmt: skip


@method_app.command("show", epilog=examples("kazi workers payout-method show amina.k --json"))
def method_show(
    handle: Annotated[str, typer.Argument(help="The worker's handle")], as_json: JsonFlag = False
) -> None:
    """A worker's payout method (number masked)."""
    from engine.bootstrap import get_context
    from engine.payouts.service import current_method

    with get_context().uow() as uow:
        info = current_method(uow, _worker_id(uow, handle))
    if info is None:
        raise CliFailure(f"{handle} has no payout method", ExitCode.NOT_FOUND, "no_method")
    _echo(
        info.as_json(), as_json, [f"{handle}: {info.provider} {info.msisdn_masked} ({info.state})"]
    )
