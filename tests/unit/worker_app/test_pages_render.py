"""The page templates with data: balances and money per locale, plurals, the feedback diff,
Arabic right to left. Rendered without a server (templating.environment)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from engine.domain.money import Money
from engine.domain.worker_skill import SkillEstimate, TierPolicy
from engine.worker_app.auth import WorkerView
from engine.worker_app.i18n import direction
from engine.worker_app.progress import next_tier
from engine.worker_app.templating import environment
from engine.worker_app.views import Balance, EarningsPage, HomeView, PayoutLine

WORKER = WorkerView("w1", "amina.k", "trainee", "active")


def _render(name: str, locale: str, **context: Any) -> str:
    request = SimpleNamespace(url=SimpleNamespace(path="/app"))
    return environment(locale).get_template(name).render(
        request=request, locale=locale, dir=direction(locale), csrf_token="tok",
        worker=WORKER, **context,
    )  # fmt: skip


FEEDBACK = [
    {
        "answer_id": 1, "task_id": "t", "job_id": "j", "submitted_at": "2026-11-30T10:00:00",
        "scored_against": "review", "score": 0.75, "your_answer": {"text": "helo world"},
        "expected": {"text": "hello world"},
        "diff": [{"op": "substitute", "expected": "hello", "yours": "helo"},
                 {"op": "equal", "expected": "world", "yours": "world"}],
    }
]  # fmt: skip


def _home(answers: int) -> HomeView:
    skill = SkillEstimate(0.7, 0.55, 0.85, answers)
    return HomeView("trainee", "active", skill, next_tier("trainee", skill, TierPolicy()),
                    FEEDBACK, None)  # fmt: skip


@pytest.mark.parametrize("locale", ["en", "sw", "ar"])
def test_home_renders_in_each_language(locale: str) -> None:
    html = _render("home.html", locale, home=_home(19))
    assert f'<html lang="{locale}" dir="{direction(locale)}">' in html
    assert 'id="get-task"' in html and 'id="next-tier"' in html
    assert "<del" in html and ">helo</del>" in html and ">hello</ins>" in html
    assert 'name="csrf_token" value="tok"' in html  # the language and logout forms


def test_plural_forms_follow_the_count() -> None:
    assert "1 more scored answer<" in _render("home.html", "en", home=_home(19))
    assert "3 more scored answers" in _render("home.html", "en", home=_home(17))
    one = _render("home.html", "ar", home=_home(19))
    few = _render("home.html", "ar", home=_home(17))
    assert "إجابة مقيّمة واحدة" in one and "3 إجابات" in few


def test_earnings_formats_money_for_the_locale() -> None:
    page = EarningsPage(
        balances=[Balance("KES", Money("KES", 125050), Money("KES", 99), Money("KES", 0))],
        answers=[{"money": Money("KES", 1000), "status": "earned", "reason": "accepted"}],
        reviews=[],
        payouts=[
            PayoutLine(datetime(2026, 11, 30, tzinfo=UTC), "confirmed", Money("KES", 500), "mpesa")
        ],
    )
    en = _render("earnings.html", "en", page=page)
    assert "KES1,250.50" in en and "KES0.99" in en and "KES5.00" in en and "paid" in en
    sw = _render("earnings.html", "sw", page=page)
    assert "Ksh\xa01,250.50" in sw and "imelipwa" in sw
    ar = _render("earnings.html", "ar", page=page)
    assert "1,250.50\xa0KES" in ar and 'dir="rtl"' in ar


def test_the_statement_page_formats_the_signed_documents_money() -> None:
    zero = {"currency": "KES", "minor": 0, "text": "KES 0.00"}
    statement = {
        "work": {"answers": 1200, "reviews": 3, "working_time": "2 h 5 min"},
        "money": [{"currency": "KES", "earned": {"currency": "KES", "minor": 123456, "text": ""},
                   "corrections": zero, "paid_out": zero, "benefits_saved": zero}],
    }  # fmt: skip
    html = _render("statement.html", "en", month="2026-11", statement=statement)
    assert "KES1,234.56" in html and "1,200" in html
    assert 'href="/app/statements/2026-11?format=json"' in html


def test_text_is_escaped() -> None:
    evil = [
        {**FEEDBACK[0], "diff": [{"op": "insert", "expected": "<script>x</script>", "yours": ""}]}
    ]
    html = _render("feedback.html", "en", items=evil)
    assert "<script>x</script>" not in html and "&lt;script&gt;" in html
