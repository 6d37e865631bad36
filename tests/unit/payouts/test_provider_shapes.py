"""The adapters' request bodies and result parsing (the documented Daraja and MoMo shapes),
and the CSV export/result file."""

from __future__ import annotations

import pytest

from engine.domain.money import Money
from engine.payouts.providers import PayoutOrder
from engine.payouts.providers.csv_export import ResultFileError, export_text, read_result_file
from engine.payouts.providers.mpesa_b2c import MalformedResult, MpesaB2C, parse_result
from engine.payouts.providers.mtn_momo import (
    MalformedStatus,
    MtnMomoDisbursement,
    amount_matches,
    parse_status,
)

ORDER = PayoutOrder(
    "pay-1",
    "+254712345678",
    "Amina",
    Money("KES", 19_000),
    "Kazi payout",
    "https://e/r",
    "https://e/t",
)


class NoClient:
    def fetch(self, *args: object, **kwargs: object) -> tuple[int, bytes]:
        raise AssertionError("no call expected")


def test_mpesa_request_body() -> None:
    adapter = MpesaB2C("https://x", "k", "s", "cred", "kazi", "600000", NoClient())
    body = adapter.request_body(ORDER)
    assert body["OriginatorConversationID"] == "pay-1"
    assert body["CommandID"] == "BusinessPayment" and body["Amount"] == 190
    assert body["PartyB"] == "254712345678" and body["PartyA"] == "600000"
    assert body["ResultURL"] == "https://e/r" and body["QueueTimeOutURL"] == "https://e/t"
    assert "Occassion" in body and body["SecurityCredential"] == "cred"


def test_mpesa_refuses_cents() -> None:
    adapter = MpesaB2C("https://x", "k", "s", "cred", "kazi", "600000", NoClient())
    with pytest.raises(ValueError):
        adapter.request_body(PayoutOrder("p", "+254712345678", "A", Money("KES", 150), "", "", ""))


def test_mpesa_result_parsed() -> None:
    result = parse_result(
        {
            "Result": {
                "ResultType": 0,
                "ResultCode": 0,
                "ResultDesc": "ok",
                "OriginatorConversationID": "pay-1",
                "ConversationID": "AG_1",
                "TransactionID": "NLJ41HAY6Q",
                "ResultParameters": {
                    "ResultParameter": [{"Key": "TransactionAmount", "Value": 190}]
                },
            }
        }
    )
    assert result.confirmed and result.amount_whole == 190 and result.transaction_id == "NLJ41HAY6Q"
    failed = parse_result({"Result": {"OriginatorConversationID": "p", "ResultCode": "2001"}})
    assert not failed.confirmed and failed.amount_whole is None


@pytest.mark.parametrize(
    "body",
    [
        None,
        {},
        {"Result": []},
        {"Result": {"ResultCode": 0}},
        {"Result": {"OriginatorConversationID": "p", "ResultCode": None}},
        {
            "Result": {
                "OriginatorConversationID": "p",
                "ResultCode": 0,
                "ResultParameters": {
                    "ResultParameter": [{"Key": "TransactionAmount", "Value": 1.5}]
                },
            }
        },
        {
            "Result": {
                "OriginatorConversationID": "p",
                "ResultCode": 0,
                "ResultParameters": {
                    "ResultParameter": [{"Key": "TransactionAmount", "Value": "10.5"}]
                },
            }
        },
    ],
)
def test_mpesa_malformed(body: object) -> None:
    with pytest.raises(MalformedResult):
        parse_result(body)


def test_momo_request_body() -> None:
    adapter = MtnMomoDisbursement("https://x", "sub", "user", "key", NoClient())
    body = adapter.request_body(ORDER)
    assert body == {
        "amount": "190.00",
        "currency": "KES",
        "externalId": "pay-1",
        "payee": {"partyIdType": "MSISDN", "partyId": "254712345678"},
        "payerMessage": "Kazi payout",
        "payeeNote": "Kazi payout",
    }


def test_momo_status() -> None:
    status = parse_status(
        {
            "status": "FAILED",
            "reason": {"code": "PAYEE_NOT_FOUND"},
            "amount": "190.00",
            "currency": "KES",
        }
    )
    assert status.reason == "PAYEE_NOT_FOUND"
    assert amount_matches(status, Money("KES", 19_000))
    assert not amount_matches(status, Money("KES", 19_001))
    assert not amount_matches(
        parse_status({"status": "SUCCESSFUL", "currency": "UGX"}), Money("KES", 1)
    )
    for bad in ({}, {"status": "OK"}, [], {"status": "PENDING", "amount": 1.0}):
        with pytest.raises(MalformedStatus):
            parse_status(bad)


def test_csv_export_quotes_formulas() -> None:
    order = PayoutOrder("p", "+254712345678", "=HYPERLINK(1)", Money("KES", 100), "@x", "", "")
    text = export_text([order])
    assert "'=HYPERLINK(1)" in text and "'@x" in text and "+254712345678" in text


def test_result_file() -> None:
    rows = read_result_file("Payout_ID,Amount,Currency,Status\np1,1.00,kes,PAID\np2,2,KES,weird\n")
    assert [(r.payout_id, r.currency, r.confirmed) for r in rows] == [
        ("p1", "KES", True),
        ("p2", "KES", None),
    ]
    with pytest.raises(ResultFileError):
        read_result_file("payout_id,amount\np1,1\n")
