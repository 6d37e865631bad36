"""``kazi workers``: register trainee workers and reviewers, link them to Label Studio."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from engine.cli.app import CliFailure, ExitCode, app, examples

if TYPE_CHECKING:
    from engine.domain.training_path import TrainingStage
    from engine.unit_of_work import UnitOfWork

workers_app = typer.Typer(help="Worker accounts.", no_args_is_help=True)
app.add_typer(workers_app, name="workers")


def _registered_and_enrolled(
    uow: UnitOfWork, register: Callable[..., Any], train: bool, *args: Any
) -> tuple[Any, TrainingStage | None]:
    """Register the worker and, for a new trainee when the engine has a qualification set, its
    training record, in one transaction: a crash between the two would leave a trainee free to
    take paid work untrained."""
    from engine.training.service import enrol_new_trainee

    created = register(uow, *args)
    stage = enrol_new_trainee(uow, created.id) if train and created.tier == "trainee" else None
    return created, stage


@workers_app.command(
    "add",
    epilog=examples(
        "kazi workers add amina.k --tier qualified",
        "kazi workers add amina.k --label-studio --json",
    ),
)
def workers_add(
    handle: Annotated[str, typer.Argument(help="Short unique name, e.g. amina.k")],
    tier: Annotated[str, typer.Option(help="trainee | qualified | reviewer")] = "trainee",
    label_studio: Annotated[
        bool, typer.Option(help="Also create the worker's Label Studio login")
    ] = False,
    password: Annotated[
        str | None, typer.Option(help="Label Studio password (default: generated, shown once)")
    ] = None,
    demographics: Annotated[
        str | None, typer.Option(help='Consented demographics as JSON, e.g. \'{"gender":"f"}\'')
    ] = None,
    consented: Annotated[bool, typer.Option(help="The worker consented to demographics")] = False,
    skip_training: Annotated[
        bool, typer.Option("--skip-training", help="No training path for this trainee")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Register a worker and print its worker-API key (shown once)."""
    from engine.bootstrap import get_context
    from engine.labeling.gateway_factory import label_studio_gateway
    from engine.labeling.label_studio_gateway import LabelStudioGatewayError
    from engine.work.start_links import start_link
    from engine.workforce.service import (
        WorkerError,
        check_registration,
        register_worker,
        register_worker_with_login,
        sign_up_in_label_studio,
    )

    ctx = get_context()
    try:
        extra = json.loads(demographics) if demographics else None
    except json.JSONDecodeError as exc:
        raise CliFailure(
            f"--demographics is not JSON: {exc}", ExitCode.BAD_INPUT, "bad_input"
        ) from exc
    pw = password or secrets.token_urlsafe(12)
    train = not skip_training
    try:
        if not label_studio:
            created, stage = ctx.in_unit_of_work(
                _registered_and_enrolled, register_worker, train, handle, tier, extra, consented
            )
        else:
            gateway = label_studio_gateway(ctx.settings)
            if gateway is None:
                raise CliFailure(
                    "set KAZI_LABEL_STUDIO_TOKEN to link Label Studio",
                    ExitCode.BAD_INPUT,
                    "label_studio_not_configured",
                )
            # Refused input makes no Label Studio user; Label Studio is called with no
            # transaction open, and the worker and its mapping are then recorded together.
            ctx.in_unit_of_work(check_registration, handle, tier, extra, consented)
            login = sign_up_in_label_studio(gateway, handle, pw)
            created, stage = ctx.in_unit_of_work(
                _registered_and_enrolled, register_worker_with_login, train,
                handle, tier, login, extra, consented,
            )  # fmt: skip
    except WorkerError as exc:
        raise CliFailure.from_error(exc) from exc
    except LabelStudioGatewayError as exc:
        raise CliFailure(f"Label Studio: {exc}", ExitCode.FAILED, "label_studio_error") from exc
    out: dict[str, object] = {"id": created.id, "handle": created.handle, "tier": created.tier,
                              "api_key": created.api_key}  # fmt: skip
    if stage is not None:
        out["training"] = stage.value
    if label_studio:
        out["label_studio_email"] = login.email
        out["label_studio_password"] = pw
        out["start_link"] = start_link(
            ctx.settings.public_url, created.id, ctx.settings.signing_secret
        )
    if as_json:
        typer.echo(json.dumps(out))
    else:
        for key, value in out.items():
            typer.echo(f"{key.replace('_', ' ')}: {value}")


@workers_app.command("list", epilog=examples("kazi workers list", "kazi workers list --json"))
def workers_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array")] = False,
) -> None:
    """List workers with their tier and status."""
    from engine.bootstrap import get_context

    with get_context().uow() as uow:
        rows = [
            {
                "id": w.id,
                "handle": w.handle,
                "tier": w.tier,
                "status": w.status,
                "label_studio_email": w.ls_email,
            }  # fmt: skip
            for w in uow.workers.all()
        ]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        typer.echo(f"{row['handle']:<24} {row['tier']:<10} {row['status']:<7} {row['id']}")


@workers_app.command(
    "pause", epilog=examples("kazi workers pause amina.k", "kazi workers pause amina.k --resume")
)
def workers_pause(
    handle: Annotated[str, typer.Argument(help="The worker's handle")],
    resume: Annotated[bool, typer.Option("--resume", help="Let the worker work again")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Pause a worker from paid tasks (or --resume)."""
    from engine.bootstrap import get_context
    from engine.workforce.service import WorkerError, set_paused

    try:
        get_context().in_unit_of_work(set_paused, handle, not resume)
    except WorkerError as exc:
        raise CliFailure.from_error(exc) from exc
    state = "active" if resume else "paused"
    typer.echo(json.dumps({"handle": handle, "status": state}) if as_json else f"{handle}: {state}")


@workers_app.command(
    "login-code",
    epilog=examples(
        "kazi workers login-code amina.k",
        "kazi workers login-code amina.k --qr amina.svg",
        "kazi workers login-code amina.k --json",
    ),
)
def workers_login_code(
    handle: Annotated[str, typer.Argument(help="The worker's handle")],
    qr: Annotated[
        Path | None, typer.Option("--qr", help="Also write the link's QR code to FILE.svg or .png")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """A one-time login code for the worker app, its link and QR code (the worker's older
    unused codes stop working). It works once, until it expires (KAZI_APP_LOGIN_CODE_HOURS)."""
    import segno

    from engine.bootstrap import get_context
    from engine.worker_app.login_code import grouped
    from engine.worker_app.sessions import issue_login_code
    from engine.workforce.service import WorkerError

    if qr is not None and qr.suffix.lower() not in {".svg", ".png"}:
        raise CliFailure("--qr writes a .svg or .png file", ExitCode.BAD_INPUT, "bad_input")
    ctx = get_context()
    try:
        code, path = ctx.in_unit_of_work(issue_login_code, handle)
    except WorkerError as exc:
        raise CliFailure.from_error(exc) from exc
    link = ctx.settings.public_url.rstrip("/") + path
    image = segno.make(link, error="m")
    if qr is not None:
        image.save(str(qr), scale=8, border=4)
    if as_json:
        out = {"handle": handle, "code": grouped(code), "link": link}
        typer.echo(json.dumps(out | ({"qr": str(qr)} if qr is not None else {})))
        return
    typer.echo(f"login code: {grouped(code)}")
    typer.echo(f"link: {link}")
    image.terminal(compact=True)
    if qr is not None:
        typer.echo(f"QR code written to {qr}")
