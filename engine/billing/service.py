"""Billing use cases: quote a job, reserve its quote at intake, settle it at delivery.

Money flows (see /work/notes/pay-design.md): intake moves the quote total from the client's
funds into the job's reservation (``reserve:job:<id>``, a 402 when balance plus credit limit is
short); workers' earnings are paid out of the reservation as tasks become final; delivery takes
the platform fee from it (``fee:job:<id>``) and returns the rest to the client's funds, or tops
a short reservation up from them (``settle:job:<id>``). Every posting runs in the transaction of
the event that causes it (the job row, the stage change).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from engine.billing.errors import InsufficientFundsForJob, InvoiceOutdated, QuoteRefused
from engine.db.billing_models import JobBillingRow
from engine.domain.job_stage import JobKind
from engine.domain.ledger import (
    AccountKind,
    AccountRef,
    JournalEntry,
    TransactionKind,
    Transfer,
    client_funds,
    entry,
    fee_job_key,
    job_reservation,
    platform_fees,
    reserve_job_key,
    settle_job_key,
)
from engine.domain.money import Money, MoneyError, parse_amount
from engine.domain.pricing import (
    BPS,
    DEFAULT_BOXES_PER_IMAGE,
    DEFAULT_LOW_AGREEMENT_BPS,
    LineCode,
    MediaItem,
    PricingError,
    Quote,
    QuoteInputs,
    RateUnit,
    Tiling,
    price_job,
    ratio_bps,
)
from engine.ledger import service as ledger
from engine.ledger.errors import InsufficientFunds
from engine.ledger.pay_policy import pay_policy
from engine.secrets import is_embedded
from engine.settings import Settings, get_settings
from engine.unit_of_work import UnitOfWork
from schemas.billing import MediaDescription, MoneyView, QuoteAssumptions, QuoteLineView, QuoteView
from schemas.jobs import JobSpec

WORKER_KINDS = frozenset(
    {AccountKind.WORKER_PENDING, AccountKind.WORKER_AVAILABLE, AccountKind.WORKER_BENEFITS}
)


# -- quotes -----------------------------------------------------------------------------------


def _rate_amount(value: object, currency: str, name: str) -> Money:
    if value is None:
        return Money.zero(currency)
    if not isinstance(value, str | int | Decimal) or isinstance(value, bool):
        raise QuoteRefused(f"pay_rate.{name} must be a decimal amount")
    try:
        return parse_amount(value, currency)
    except MoneyError as error:
        raise QuoteRefused(f"pay_rate.{name}: {error}") from None


def quote_inputs(
    spec: JobSpec,
    media: tuple[MediaItem, ...],
    settings: Settings,
    assume: QuoteAssumptions | None = None,
    fee_bps: int | None = None,
) -> QuoteInputs:
    rate = spec.pay_rate
    if rate is None:
        raise QuoteRefused("the spec has no pay_rate: a job without one costs nothing to run")
    currency = rate.currency
    try:
        unit = RateUnit(str(rate.per))
    except ValueError:
        raise QuoteRefused(f"pay_rate.per {rate.per!r} is not priced") from None
    assume = assume or QuoteAssumptions()
    try:
        return QuoteInputs(
            kind=JobKind(spec.kind),
            unit=unit,
            rate=_rate_amount(rate.amount, currency, "amount"),
            training_rate=_rate_amount(rate.training_amount, currency, "training_amount"),
            review_rate=_rate_amount(rate.review_amount, currency, "review_amount"),
            overlap=spec.overlap,
            gold_ratio_bps=ratio_bps(spec.gold_ratio),
            max_segment_ms=round(Decimal(str(spec.max_segment_seconds)) * 1000),
            segment_overlap_ms=round(Decimal(str(spec.segment_overlap_seconds)) * 1000),
            media=media,
            gold_filenames=frozenset(g.filename for g in spec.gold),
            review_sample_bps=ratio_bps(min(max(settings.review_sample_rate, 0.0), 1.0)),
            low_agreement_bps=(
                DEFAULT_LOW_AGREEMENT_BPS
                if assume.low_agreement_bps is None
                else assume.low_agreement_bps
            ),
            boxes_per_image=(
                DEFAULT_BOXES_PER_IMAGE
                if assume.boxes_per_image is None
                else assume.boxes_per_image
            ),
            platform_fee_bps=pay_policy().platform_fee_bps if fee_bps is None else fee_bps,
            tiling=Tiling(settings.tile_threshold_px, settings.tile_size_px,
                          settings.tile_overlap_px),
        )  # fmt: skip
    except (MoneyError, PricingError) as error:
        raise QuoteRefused(str(error)) from None


def price(
    spec: JobSpec,
    media: tuple[MediaItem, ...],
    settings: Settings,
    assume: QuoteAssumptions | None = None,
    fee_bps: int | None = None,
) -> Quote:
    """The quote for ``spec`` over ``media``; QuoteRefused (422) when it cannot be made."""
    try:
        return price_job(quote_inputs(spec, media, settings, assume, fee_bps))
    except PricingError as error:
        raise QuoteRefused(str(error)) from None


def media_items(described: list[MediaDescription]) -> tuple[MediaItem, ...]:
    return tuple(
        MediaItem(d.filename, duration_ms=d.duration_ms, width=d.width, height=d.height)
        for d in described
    )


def quote_view(quote: Quote) -> QuoteView:
    return QuoteView(
        currency=quote.currency,
        lines=[
            QuoteLineView(
                code=line.code.value,
                description=line.description,
                quantity=line.quantity,
                unit=line.unit,
                amount=MoneyView.of(line.amount),
            )
            for line in quote.lines
        ],
        subtotal=MoneyView.of(quote.subtotal),
        platform_fee=MoneyView.of(quote.fee),
        total=MoneyView.of(quote.total),
        assumptions=list(quote.assumptions),
        counts=dict(quote.counts),
    )


# -- intake: the reservation -------------------------------------------------------------------


def _is_demo_tenant(uow: UnitOfWork, client_id: str, settings: Settings) -> bool:
    """The embedded checkout's own tenant (the CLI and the demo) has no credit floor."""
    if not is_embedded(settings):
        return False
    client = uow.clients.get(client_id)
    return client is not None and client.name == settings.local_client_name


def available_funds(uow: UnitOfWork, funds: AccountRef, demo: bool) -> int | None:
    """What the client may still spend (balance minus its floor); None: no limit."""
    state = uow.ledger.account(funds)
    balance = state.balance if state is not None else 0
    floor = state.floor if state is not None else 0
    if demo or floor is None:
        return None
    return balance - floor


def reserve_for_job(
    uow: UnitOfWork,
    *,
    client_id: str,
    job_id: str,
    spec: JobSpec,
    media: tuple[MediaItem, ...],
    settings: Settings,
) -> Quote | None:
    """Inside the intake transaction: price the job, check the client can pay, and move the
    quote total into the job's reservation. None (nothing posted) for a job without a pay rate.
    Raises InsufficientFundsForJob (402) with the shortfall."""
    if spec.pay_rate is None:
        return None
    quote = price(spec, media, settings)
    total = quote.total
    funds = client_funds(client_id, total.currency)
    demo = _is_demo_tenant(uow, client_id, settings)
    available = available_funds(uow, funds, demo)
    if available is not None and available < total.minor:
        raise InsufficientFundsForJob(total, Money(total.currency, available))
    if total.minor > 0:
        reserve = entry(
            reserve_job_key(job_id),
            TransactionKind.RESERVE,
            Transfer(funds, job_reservation(job_id, total.currency), total.minor),
            memo=f"job {job_id}: quote reserved",
            cause={"job_id": job_id, "client_id": client_id},
        )
        try:
            ledger.post(uow, reserve, {funds: None} if demo else None)
        except InsufficientFunds:  # spent by a concurrent intake since the check above
            left = available_funds(uow, funds, demo) or 0
            raise InsufficientFundsForJob(total, Money(total.currency, left)) from None
    uow.billing.add(
        JobBillingRow(
            job_id=job_id,
            client_id=client_id,
            currency=total.currency,
            fee_bps=next(x.quantity for x in quote.lines if x.code is LineCode.PLATFORM_FEE),
            quoted_minor=total.minor,
            quote=quote_view(quote).model_dump(mode="json"),
            funded_minor=total.minor,
            fee_minor=0,
            deliveries=0,
        )
    )
    return quote


# -- delivery: what the job cost, the fee, settlement -------------------------------------------


@dataclass(frozen=True, slots=True)
class CostLine:
    code: str  # answers | reviews | gold | other
    description: str
    count: int  # entries (answers, reviews) net of reversals
    amount: Money


@dataclass(frozen=True, slots=True)
class JobCharge:
    """What a delivered job costs the client, from the ledger: the workers' pay by kind, the
    platform fee on it, and what settlement will move."""

    job_id: str
    client_id: str
    currency: str
    quoted: Money
    cost_lines: tuple[CostLine, ...]
    cost: Money  # the workers' pay out of the reservation
    fee: Money  # the whole fee on ``cost``
    fee_bps: int
    fee_due: Money  # the fee not yet posted (all of it at the first delivery)
    reservation_left: int  # reservation balance after the fee is taken
    covered_by_funds: int  # of a short reservation: what the client's funds can top up
    deliveries: int = 0
    notes: tuple[str, ...] = field(default=())

    @property
    def charged(self) -> Money:
        """The job's price: pay plus fee (what the client's funds give up in the end)."""
        return self.cost + self.fee

    @property
    def amount_due(self) -> Money:
        """Charged but not covered by the funds: a short reservation past the credit limit."""
        short = max(0, -self.reservation_left - self.covered_by_funds)
        return Money(self.currency, short)


_CATEGORY = {
    TransactionKind.EARN: "answers",
    TransactionKind.REVIEW_EARN: "reviews",
    TransactionKind.TRAINING_EARN: "gold",
}
_CATEGORY_TEXT = {
    "answers": "workers' answers",
    "reviews": "QA reviews",
    "gold": "gold (training) answers",
    "other": "other postings to the job's reservation",
}


@dataclass
class _ReservationFlows:
    """What moved through a job's reservation, by counterparty: the client's funds (the
    reservation, top-ups, settlement), the platform's fees, and everyone else (the cost)."""

    funded: int = 0
    fees: int = 0
    lines: dict[str, tuple[int, int]] = field(default_factory=dict)  # category: (count, amount)


def _flows(uow: UnitOfWork, reservation: AccountRef) -> _ReservationFlows:
    flows = _ReservationFlows()
    for posted in uow.ledger.entries_for(reservation):
        e = posted.entry
        cost = 0
        for t in e.transfers:
            if reservation not in (t.debit, t.credit):
                continue
            other, out = (t.credit, t.amount) if t.debit == reservation else (t.debit, -t.amount)
            if other.kind is AccountKind.CLIENT_FUNDS:
                flows.funded -= out
            elif other.kind is AccountKind.PLATFORM_FEES:
                flows.fees += out
            else:
                cost += out
        if cost:
            category, sign = _category_of(uow, e)
            count, amount = flows.lines.get(category, (0, 0))
            flows.lines[category] = (count + sign, amount + cost)
    return flows


def _category_of(uow: UnitOfWork, e: JournalEntry) -> tuple[str, int]:
    if e.kind is TransactionKind.REVERSAL and e.reverses:
        original = uow.ledger.entry(e.reverses)
        if original is not None and original.kind in _CATEGORY:
            return _CATEGORY[original.kind], -1
        return "other", 0
    if e.kind in _CATEGORY:
        return _CATEGORY[e.kind], 1
    return "other", 0


def job_charge(uow: UnitOfWork, job_id: str, settings: Settings) -> JobCharge | None:
    """The job's charge as the ledger has it now; None for a job that was never reserved."""
    row = uow.billing.get(job_id)
    if row is None:
        return None
    currency = row.currency
    reservation = job_reservation(job_id, currency)
    balance = uow.ledger.balance(reservation)
    flows = _flows(uow, reservation)
    lines = flows.lines
    cost_minor = sum(amount for _, amount in lines.values())
    # The maintained balance and the journal agree (the ledger check says so); the cost is
    # what went to anyone but the client and the platform.
    if flows.funded - flows.fees - cost_minor != balance:
        raise RuntimeError(
            f"job {job_id}: the reservation's balance row disagrees with its journal"
        )
    cost = Money(currency, cost_minor)
    fee = Money(currency, max(0, cost_minor)).share(row.fee_bps, BPS)
    fee_due = fee - Money(currency, flows.fees)
    left = balance - fee_due.minor
    covered = 0
    if left < 0:
        demo = _is_demo_tenant(uow, row.client_id, settings)
        available = available_funds(uow, client_funds(row.client_id, currency), demo)
        covered = -left if available is None else max(0, min(-left, available))
    order = ("answers", "reviews", "gold", "other")
    return JobCharge(
        job_id=job_id,
        client_id=row.client_id,
        currency=currency,
        quoted=Money(currency, row.quoted_minor),
        cost_lines=tuple(
            CostLine(code, _CATEGORY_TEXT[code], lines[code][0], Money(currency, lines[code][1]))
            for code in order
            if code in lines
        ),
        cost=cost,
        fee=fee,
        fee_bps=row.fee_bps,
        fee_due=fee_due,
        reservation_left=left,
        covered_by_funds=covered,
        deliveries=row.deliveries,
    )


def _delivery_key(base: str, deliveries: int) -> str:
    """The first delivery posts under the design's keys; a job assembled again after delivery
    posts the difference under ``<key>:<n>`` (n = 2, 3, ...)."""
    return base if deliveries == 0 else f"{base}:{deliveries + 1}"


def settle_failed_job(uow: UnitOfWork, job_id: str) -> JobCharge | None:
    """In the transaction that moves a job to failed: it is charged what its workers earned
    so far (and the fee on that), and the rest of its reservation goes back to the client."""
    if uow.billing.get(job_id) is None:
        return None
    return settle_at_delivery(uow, job_id, None, get_settings(), require_invoice=False)


def settle_at_delivery(
    uow: UnitOfWork,
    job_id: str,
    invoiced: JobCharge | None,
    settings: Settings,
    *,
    require_invoice: bool = True,
) -> JobCharge | None:
    """Inside the transaction that moves the job to delivered: post the fee and return the rest
    of the reservation to the client (or top a short one up). ``invoiced`` is the charge the
    invoice was built from; InvoiceOutdated (409) when the ledger moved since."""
    row = uow.billing.get(job_id, for_update=True)
    if row is None:
        return None
    charge = job_charge(uow, job_id, settings)
    assert charge is not None
    if require_invoice and (
        invoiced is None or (charge.cost, charge.amount_due) != (invoiced.cost, invoiced.amount_due)
    ):
        raise InvoiceOutdated(f"job {job_id}: its cost changed while its invoice was built")
    currency = row.currency
    reservation = job_reservation(job_id, currency)
    funds = client_funds(row.client_id, currency)
    cause: dict[str, str | int] = {"job_id": job_id, "client_id": row.client_id}
    if charge.fee_due.minor:
        fee_transfer = (
            Transfer(reservation, platform_fees(currency), charge.fee_due.minor)
            if charge.fee_due.minor > 0
            else Transfer(platform_fees(currency), reservation, -charge.fee_due.minor)
        )
        ledger.post(
            uow,
            entry(
                _delivery_key(fee_job_key(job_id), row.deliveries),
                TransactionKind.FEE,
                fee_transfer,
                memo=f"job {job_id}: platform fee",
                cause=cause,
            ),
        )
        row.fee_minor += charge.fee_due.minor
    left = charge.reservation_left
    settle: Transfer | None = None
    if left > 0:
        settle = Transfer(reservation, funds, left)
        row.funded_minor -= left
    elif charge.covered_by_funds > 0:
        settle = Transfer(funds, reservation, charge.covered_by_funds)
        row.funded_minor += charge.covered_by_funds
    if settle is not None:
        demo = _is_demo_tenant(uow, row.client_id, settings)
        ledger.post(
            uow,
            entry(
                _delivery_key(settle_job_key(job_id), row.deliveries),
                TransactionKind.SETTLE_JOB,
                settle,
                memo=f"job {job_id}: reservation settled",
                cause=cause,
            ),
            {funds: None} if demo else None,
        )
    row.deliveries += 1
    row.settled_at = datetime.now(UTC)
    uow.flush()
    return charge
