"""A signed statement as one HTML page, for people (the JSON is what verifies)."""

from __future__ import annotations

from html import escape
from typing import Any


def _text(value: Any) -> str:
    if isinstance(value, dict) and "text" in value:
        return escape(str(value["text"]))
    return escape(str(value))


def render_statement_html(doc: dict[str, Any]) -> str:
    work = doc["work"]
    money_rows = ""
    for block in doc["money"]:
        for label, name in (
            ("earned", "earned"),
            ("corrections", "corrections"),
            ("net earnings", "net_earnings"),
            ("released to available", "released_to_available"),
            ("paid out", "paid_out"),
            ("payouts returned", "payouts_returned"),
            ("saved to benefits", "benefits_saved"),
            ("benefits match", "benefits_matched"),
        ):
            money_rows += f"<tr><td>{escape(label)}</td><td class=n>{_text(block[name])}</td></tr>"
        for name, value in block["closing_balances"].items():
            money_rows += (
                f"<tr><td>balance at month end: {escape(name)}</td>"
                f"<td class=n>{_text(value)}</td></tr>"
            )
    job_rows = "".join(
        f"<tr><td>{escape(j['job_id'][:8])}</td><td>{escape(j['kind'])}</td>"
        f"<td class=n>{j['answers']}</td><td class=n>{j['reviews']}</td>"
        f"<td class=n>{j['working_seconds'] // 60} min</td></tr>"
        for j in work["jobs"]
    )
    payout_rows = "".join(
        f"<tr><td>{escape(p['posted_at'])}</td><td class=n>{_text(p['sent'])}</td>"
        f"<td class=n>{_text(p['to_benefits'])}</td></tr>"
        for p in doc["payouts"]
    )
    signature = doc.get("signature", {})
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Income statement {escape(doc["period"]["month"])}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;color:#222}}
table{{border-collapse:collapse;width:100%;margin-bottom:1.5rem}}td,th{{padding:.3rem .5rem;
border-bottom:1px solid #ddd;text-align:left}}.n{{text-align:right}}code{{word-break:break-all}}
</style></head><body>
<h1>Income statement, {escape(doc["period"]["month"])}</h1>
<p>Worker {escape(doc["worker"]["handle"])} ({escape(doc["worker"]["id"])}) · issued
{escape(doc["issued_at"])} by {escape(doc["issuer"]["name"])} {escape(doc["issuer"]["url"])}</p>
<h2>Work</h2>
<p>{work["answers"]} answers ({work["gold_answers"]} training), {work["reviews"]} reviews,
working time {escape(work["working_time"])} ({escape(work["measured_by"])}).</p>
<table><thead><tr><th>job</th><th>kind</th><th class=n>answers</th><th class=n>reviews</th>
<th class=n>time</th></tr></thead><tbody>{job_rows}</tbody></table>
<h2>Money</h2><table><tbody>{money_rows}</tbody></table>
<h2>Payouts</h2><table><thead><tr><th>sent</th><th class=n>amount</th>
<th class=n>to benefits</th></tr></thead><tbody>{payout_rows}</tbody></table>
<h2>Signature</h2>
<p>{escape(str(signature.get("algorithm", "")))}, key
<code>{escape(str(signature.get("key_id", "")))}</code>:
<code>{escape(str(signature.get("value", "")))}</code></p>
<p>To check it, POST the JSON form of this statement (<code>?format=json</code>) to
<code>/v1/statements/verify</code> on the issuing engine.</p>
</body></html>
"""
