"""``kazi ledger``: check the ledger against its journal, show balances, record client top-ups."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from engine.cli.app import CliFailure, ExitCode, app, examples

ledger_app = typer.Typer(
    help="The money ledger (earnings, client funds, payouts).", no_args_is_help=True
)
app.add_typer(ledger_app, name="ledger")


@ledger_app.command("check", epilog=examples("kazi ledger check", "kazi ledger check --json"))
def ledger_check(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Recompute every balance from the journal; exit 1 on any difference."""
    from engine.bootstrap import get_context
    from engine.ledger.service import check

    report = get_context().in_unit_of_work(check)
    if as_json:
        typer.echo(json.dumps(report.as_json()))
    else:
        typer.echo(
            f"{report.accounts} accounts, {report.transactions} transactions, "
            f"{report.transfers} transfers"
        )
        for difference in report.differences:
            typer.echo(f"difference: {difference}")
        typer.echo("ledger balances" if report.clean else f"{len(report.differences)} differences")
    if not report.clean:
        raise typer.Exit(ExitCode.FAILED)


@ledger_app.command(
    "balances",
    epilog=examples(
        "kazi ledger balances --owner 3f2c...", "kazi ledger balances --owner platform --json"
    ),
)
def ledger_balances(
    owner: Annotated[str, typer.Option(help="A worker id, client id, job id, or 'platform'")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array")] = False,
) -> None:
    """Show every account of one owner with its balance."""
    from engine.bootstrap import get_context
    from engine.domain.money import Money

    def read(uow):  # type: ignore[no-untyped-def]
        return uow.ledger.balances_of(owner)

    balances = get_context().in_unit_of_work(read)
    rows = [
        {"account": ref.code, "kind": ref.kind.value, "currency": ref.currency,
         **Money(ref.currency, minor).as_json()}
        for ref, minor in balances.items()
    ]  # fmt: skip
    if as_json:
        typer.echo(json.dumps(rows))
        return
    if not rows:
        typer.echo(f"no accounts for {owner}")
    for row in rows:
        typer.echo(f"{row['kind']:<20} {row['text']}")


@ledger_app.command(
    "topup",
    epilog=examples(
        "kazi ledger topup --client acme --amount 100.00 --currency KES --reference INV-7",
    ),
)
def ledger_topup(
    client: Annotated[str, typer.Option(help="The client's name")],
    amount: Annotated[str, typer.Option(help="Decimal amount in the major unit, e.g. 100.00")],
    currency: Annotated[str, typer.Option(help="ISO 4217 code, e.g. KES")],
    reference: Annotated[
        str, typer.Option(help="The deposit's reference (posted once per reference)")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Record a client's deposit (cash → client funds), once per reference."""
    from engine.bootstrap import get_context
    from engine.errors import KaziError
    from engine.ledger.service import check_topup, client_funds, money_from_text, topup

    def run(uow):  # type: ignore[no-untyped-def]
        money = money_from_text(amount, currency)
        check_topup(money, reference)
        row = uow.clients.get_by_name(client)
        if row is None:
            raise CliFailure(f"no client named {client!r}", ExitCode.NOT_FOUND, "client_not_found")
        posted = topup(uow, row.id, money, reference)
        return row.id, money, posted, uow.ledger.balance(client_funds(row.id, currency))

    try:
        client_id, money, posted, balance = get_context().in_unit_of_work(run)
    except KaziError as error:
        raise CliFailure.from_error(error) from error
    from engine.domain.money import Money

    out = {
        "client_id": client_id,
        "amount": money.as_json(),
        "posted": posted,
        "funds": Money(currency, balance).as_json(),
    }
    if as_json:
        typer.echo(json.dumps(out))
    else:
        said = "recorded" if posted else "already recorded (same reference)"
        typer.echo(f"top-up {money.format()} {said}; funds now {Money(currency, balance).format()}")
