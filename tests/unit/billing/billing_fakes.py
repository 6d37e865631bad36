"""Fakes for the billing use cases: the job_billing rows and the clients' names."""

from __future__ import annotations

from dataclasses import dataclass

from tests.unit.fakes import FakeBillingRepository, FakeUnitOfWork


@dataclass
class _Client:
    id: str
    name: str


class FakeClients:
    def __init__(self, **names: str) -> None:
        self.clients = {cid: _Client(cid, name) for cid, name in names.items()}

    def get(self, client_id: str) -> _Client | None:
        return self.clients.get(client_id)


def billing_uow(**client_names: str) -> FakeUnitOfWork:
    return FakeUnitOfWork(billing=FakeBillingRepository(), clients=FakeClients(**client_names))
