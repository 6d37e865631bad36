"""Login codes (pure), the after-login redirect rule and what the next tier needs."""

from __future__ import annotations

import pytest

from engine.domain.lease_rules import WorkerTier
from engine.domain.worker_skill import SkillEstimate, TierPolicy
from engine.worker_app import login_code
from engine.worker_app.pages import safe_next
from engine.worker_app.progress import next_tier


def test_codes_are_ten_unambiguous_characters() -> None:
    assert len(login_code.ALPHABET) == 31 and not set("0O1IL") & set(login_code.ALPHABET)
    codes = {login_code.new_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(len(c) == 10 and set(c) <= set(login_code.ALPHABET) for c in codes)


@pytest.mark.parametrize(
    ("typed", "normal"),
    [
        ("ABCDE-FGHJK", "ABCDEFGHJK"),
        ("abcde fghjk", "ABCDEFGHJK"),
        (" abCDe-fgHJk\t", "ABCDEFGHJK"),
        ("ABCDEFGHJK", "ABCDEFGHJK"),
        ("ABCDEFGHJ", None),
        ("ABCDEFGHJKM", None),
        ("ABCDE-FGHJ0", None),
        ("ABCDE_FGHJK", None),
        ("ÄBCDE-FGHJK", None),
        ("", None),
        ("-" * 100, None),
    ],
)
def test_normalize(typed: str, normal: str | None) -> None:
    assert login_code.normalize(typed) == normal


def test_grouped_and_hashed() -> None:
    assert login_code.grouped("ABCDEFGHJK") == "ABCDE-FGHJK"
    assert login_code.code_hash("ABCDEFGHJK") != login_code.code_hash("ABCDEFGHJM")
    assert len(login_code.code_hash("ABCDEFGHJK")) == 64


@pytest.mark.parametrize(
    ("target", "safe"),
    [
        ("/app/earnings", "/app/earnings"),
        ("/app", "/app"),
        ("/app?x=1", "/app?x=1"),
        ("/app/task?editor=full", "/app/task?editor=full"),
        ("", "/app"),
        (None, "/app"),
        ("https://evil.example/app", "/app"),
        ("//evil.example/app", "/app"),
        ("/application", "/app"),
        ("/app\\..\\x", "/app"),
        ("/app/\nSet-Cookie: x", "/app"),
        ("/v1/jobs", "/app"),
        ("/app/" + "x" * 600, "/app"),
    ],
)
def test_safe_next(target: str | None, safe: str) -> None:
    assert safe_next(target) == safe


def test_next_tier_needs() -> None:
    policy = TierPolicy()
    skill = SkillEstimate(mean=0.75, lower=0.6, upper=0.9, answers=5)
    trainee = next_tier("trainee", skill, policy)
    assert trainee is not None and trainee.tier is WorkerTier.QUALIFIED
    assert trainee.answers_needed == policy.qualify_min_answers - 5
    assert trainee.skill_needed == policy.qualify_lower and trainee.skill_short
    qualified = next_tier("qualified", SkillEstimate(0.95, 0.93, 0.97, 80), policy)
    assert qualified is not None and qualified.tier is WorkerTier.REVIEWER
    assert qualified.answers_needed == 0 and not qualified.skill_short
    assert next_tier("reviewer", skill, policy) is None
