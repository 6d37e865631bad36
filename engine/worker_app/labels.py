"""Names the pages show for the engine's codes (tiers, payout states...), as messages to
translate. ``N_`` marks a string for the catalogs without translating it here."""

from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 - gettext's name for a deferred translation
    return message


LABELS: dict[str, dict[str, str]] = {
    "tier_names": {
        "trainee": N_("Trainee"),
        "qualified": N_("Qualified"),
        "reviewer": N_("Reviewer"),
    },
    "scored_against": {
        "gold": N_("checked against the known answer"),
        "consensus": N_("compared with other answers"),
        "review": N_("checked by a reviewer"),
    },
    "payout_states": {
        "posted": N_("being prepared"),
        "submitted": N_("sent"),
        "unknown": N_("being checked"),
        "exported": N_("sent"),
        "confirmed": N_("paid"),
        "failed": N_("failed, money returned"),
    },
    "earning_states": {
        "earned": N_("earned"),
        "unpaid": N_("not paid"),
        "waiting": N_("waiting for the result"),
    },
}

# Messages of the app's errors: constant, so the error page can show them translated.
CODE_MALFORMED = N_("A login code is 10 letters and digits, like ABCDE-FGHJK.")
CODE_REFUSED = N_(
    "This code does not work: it is wrong, used already or expired. "
    "Ask your programme staff for a new one."
)
TOO_MANY_TRIES = N_("Too many wrong codes from this device. Wait a few minutes and try again.")
UNKNOWN_LANGUAGE = N_("Unknown language. Choose English, Kiswahili or Arabic.")
LOGIN_REQUIRED = N_("Log in to the worker app first.")
CSRF_FAILED = N_("This form has expired. Reload the page and try again.")
SEND_THE_FORM = N_("Send the login form.")
BAD_REQUEST = N_("This request is not valid. Check the address and the form.")
