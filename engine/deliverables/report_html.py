"""The quality report as one self-contained HTML page (pure string building).

The page needs nothing else: styles are inline, plots are inline SVG drawn here (agreement
histogram, gold accuracy per worker with its 95 % interval, draft-vs-final WER histogram), and
there is no script. Every piece of text from the report is HTML-escaped, in tables and in SVG.
Input is the dict :func:`engine.domain.quality_report.build_quality_report` returns; missing
sections render as "no data".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any
from urllib.parse import quote

_WORST_COUNT = 10

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222;
       padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem;
     border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { border: 1px solid #ddd; padding: .25rem .6rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.cards { display: flex; flex-wrap: wrap; gap: .8rem; }
.card { border: 1px solid #ddd; border-radius: .4rem; padding: .6rem .9rem; min-width: 10rem; }
.card .value { font-size: 1.4rem; font-weight: 600; } .card .note { color: #666; font-size: .8rem; }
.empty { color: #888; font-style: italic; }
svg text { font-size: 11px; fill: #333; }
"""


def render_report_html(report: Mapping[str, Any]) -> str:
    """A complete HTML document for ``report``."""
    job = report.get("job") or {}
    title = "Quality report" + (f" — job {job['id']}" if job.get("id") is not None else "")
    transcription = report.get("draft_vs_final") is not None
    body = [
        f"<h1>{_text(title)}</h1>",
        _job_table(job) if job else "",
        _summary(report, transcription),
        _sources(report.get("sources") or []),
        _agreement(report.get("agreement") or {}),
        _workers(report.get("workers") or []),
        _review(report.get("review") or {}, transcription),
        _drafts(report.get("draft_vs_final") or {}) if transcription else "",
        _late(report.get("late_tasks") or {}),
        _cost(report.get("cost") or {}),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_text(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body>\n</html>\n"
    )


# --- sections ---------------------------------------------------------------------------------


def _summary(report: Mapping[str, Any], transcription: bool) -> str:
    estimated = report.get("estimated_accuracy")
    agreement = report.get("agreement") or {}
    review = report.get("review") or {}
    drafts = report.get("draft_vs_final") or {}
    late = report.get("late_tasks") or {}
    cards = [
        _accuracy_card(estimated),
        _card(
            "Mean agreement", _percent(agreement.get("mean")), f"{agreement.get('tasks', 0)} tasks"
        ),
        _card(
            "Review",
            f"{review.get('accepted', 0)} / {review.get('reviewed', 0)} accepted",
            f"consensus WER {_percent(review.get('consensus_wer'))}" if transcription else "",
        ),
    ]
    if transcription:
        cards.append(
            _card(
                "Draft vs final WER",
                _percent(drafts.get("corpus_wer")),
                f"{drafts.get('tasks', 0)} transcription tasks",
            )
        )
    cards.append(
        _card("Late tasks", str(late.get("count", 0)), f"deadline {late.get('deadline') or '—'}")
    )
    return '<h2>Summary</h2>\n<div class="cards">' + "".join(cards) + "</div>" + _needed(estimated)


def _accuracy_card(estimated: Mapping[str, Any] | None) -> str:
    if not estimated:
        return _card("Estimated accuracy", "not enough evidence", "nothing was delivered")
    evidence = (
        f"{estimated.get('reviewed', 0)} reviewed, {estimated.get('checked_tasks', 0)} checked "
        f"({estimated.get('gold_checks', 0)} gold) of {estimated.get('delivered', 0)} delivered"
    )
    if estimated.get("headline") is None:
        return _card(
            "Estimated accuracy",
            "not enough evidence",
            f"95 % interval {_interval(estimated)} is wider than "
            f"{_percent(estimated.get('max_width'))}; {evidence}",
        )
    return _card(
        "Estimated accuracy",
        _percent(estimated.get("headline")),
        f"95 % interval {_interval(estimated)}; {evidence}",
    )


def _needed(estimated: Mapping[str, Any] | None) -> str:
    needed = (estimated or {}).get("needed") or []
    if not needed:
        return ""
    items = "".join(f"<li>{_text(n)}</li>" for n in needed)
    return f"<p>What would give a reliable estimate:</p><ul>{items}</ul>"


def _sources(sources: Sequence[Mapping[str, Any]]) -> str:
    if not sources:
        return ""
    parts = ["<h2>Per file</h2>"]
    for source in sources:
        name = str(source.get("name"))
        accuracy = source.get("accuracy")
        rows: list[list[Any]] = [
            ["Segments delivered", source.get("tasks", 0)],
            ["Reviewed", source.get("reviewed", 0)],
            [
                "Estimated accuracy",
                "not enough evidence"
                if not accuracy or accuracy.get("headline") is None
                else _percent(accuracy.get("headline")),
            ],
            ["95 % interval", _interval(accuracy)],
        ]
        if source.get("duration_seconds") is not None:
            rows.insert(0, ["Duration", _clock(source.get("duration_seconds"))])
        wer = source.get("wer")
        if wer is not None:
            rows += [
                ["Consensus WER on reviewed segments",
                 f"{_percent(wer.get('consensus_wer_on_checked'))} "
                 f"({wer.get('checked_segments', 0)} segments)"],
                ["Estimated WER of the delivered file",
                 _percent(wer.get("estimated_delivered_wer"))
                 if wer.get("estimated_delivered_wer") is not None
                 else "not enough evidence"],
            ]  # fmt: skip
        boxes = source.get("boxes")
        if boxes is not None:
            rows += [
                ["Box precision on reviewed images", _percent(boxes.get("precision"))],
                ["Box recall on reviewed images", _percent(boxes.get("recall"))],
                ["Images compared", boxes.get("checked_tasks", 0)],
            ]
        parts += [f"<h3>{_text(name)}</h3>", _table(["", ""], rows, numeric={1}, header=False)]
        worst = source.get("worst") or []
        parts.append(_worst_table(name, worst, wer is not None))
    return "\n".join(parts)


def _worst_table(name: str, worst: Sequence[Mapping[str, Any]], audio: bool) -> str:
    if not worst:
        return ""
    headers = ["Segment", "Span", "Agreement", "Reviewed", "Consensus WER"]
    if not audio:
        headers = ["Task", "Agreement", "Reviewed"]
    caption = "Worst segments" if audio else "Lowest agreement"
    parts = [f"<table><caption>{caption}</caption><tr>"]
    parts += [f"<th>{h}</th>" for h in headers] + ["</tr>"]
    for row in worst:
        seq = row.get("seq")
        label = f"#{seq}" if seq is not None else str(row.get("task_id"))
        agreement = f'<td class="num">{_text(_percent(row.get("agreement")))}</td>'
        reviewed = f"<td>{'yes' if row.get('reviewed') else 'no'}</td>"
        if not audio:
            parts.append(f"<tr><td>{_text(label)}</td>{agreement}{reviewed}</tr>")
            continue
        start, end = row.get("start_seconds"), row.get("end_seconds")
        span = "—" if start is None or end is None else f"{_clock(start)} – {_clock(end)}"
        if start is not None and end is not None:
            # A media fragment of the client's own file, kept beside this report.
            href = f"{quote(name)}#t={float(start):.2f},{float(end):.2f}"
            span = f'<a href="{_text(href)}">{_text(span)}</a>'
        else:
            span = _text(span)
        parts.append(
            f"<tr><td>{_text(label)}</td><td>{span}</td>{agreement}{reviewed}"
            f'<td class="num">{_text(_percent(row.get("consensus_wer")))}</td></tr>'
        )
    parts.append("</table>")
    return "".join(parts)


def _agreement(section: Mapping[str, Any]) -> str:
    lowest = section.get("lowest") or []
    return "\n".join(
        [
            "<h2>Agreement between workers</h2>",
            _histogram_svg(section.get("histogram"), "Tasks by consensus agreement", "agreement"),
            _table(
                ["Task", "Agreement"],
                [
                    [row.get("task") or row.get("task_id"), _percent(row.get("agreement"))]
                    for row in lowest
                ],
                numeric={1},
                caption="Lowest agreement",
            ),
        ]
    )


def _workers(rows: Sequence[Mapping[str, Any]]) -> str:
    table = _table(
        [
            "Worker",
            "Answers",
            "Share",
            "Gold correct",
            "Gold accuracy (95 % CI)",
            "Agreement with delivered",
            "Score vs known truth",
        ],
        [
            [
                row.get("worker"),
                row.get("answers"),
                _percent(row.get("share")),
                f"{row.get('gold_correct', 0)} / {row.get('gold_total', 0)}",
                _estimate_text(row.get("gold_accuracy")),
                _percent(row.get("agreement_with_final")),
                f"{_percent(row.get('checked_score'))} ({row.get('checked_answers', 0)} answers)",
            ]
            for row in rows
        ],
        numeric={1, 2, 3, 4, 5, 6},
    )
    return "\n".join(["<h2>Workers</h2>", _gold_bars_svg(rows), table])


def _review(section: Mapping[str, Any], transcription: bool) -> str:
    rows: list[list[Any]] = [
        ["Reviewed", section.get("reviewed", 0)],
        ["Accepted unchanged", section.get("accepted", 0)],
        ["Corrected", section.get("corrected", 0)],
        ["Acceptance (95 % CI)", _interval(section.get("acceptance"))],
    ]
    if transcription:
        rows += [
            ["Consensus WER vs reviewed text", _percent(section.get("consensus_wer"))],
            ["Tasks with texts compared", section.get("wer_tasks", 0)],
        ]
    return "<h2>Review</h2>\n" + _table(["", ""], rows, numeric={1}, header=False)


def _cost(section: Mapping[str, Any]) -> str:
    """A paid job's cost (engine/billing/delivery.py cost_figures): money as its text."""
    if not section:
        return ""

    def money(name: str) -> str:
        value = section.get(name)
        return str(value["text"]) if isinstance(value, Mapping) else "—"

    rows: list[list[Any]] = [
        ["Charged (workers' pay and the platform fee)", money("charged")],
        ["Paid to workers", money("workers_paid")],
        [f"Per item ({section.get('items', 0)} items)", money("per_item")],
    ]
    if section.get("per_audio_minute") is not None:
        rows.append(["Per audio minute", money("per_audio_minute")])
    return "<h2>Cost</h2>\n" + _table(["", ""], rows, numeric={1}, header=False)


def _drafts(section: Mapping[str, Any]) -> str:
    per_task = section.get("per_task") or []
    worst = sorted(per_task, key=lambda row: -(row.get("wer") or 0.0))[:_WORST_COUNT]
    return "\n".join(
        [
            "<h2>Machine draft vs final text</h2>",
            _table(
                ["", ""],
                [
                    ["Transcription tasks", section.get("tasks", 0)],
                    ["Corpus WER", _percent(section.get("corpus_wer"))],
                    ["Mean WER per task", _percent(section.get("mean_wer"))],
                ],
                numeric={1},
                header=False,
            ),
            _histogram_svg(section.get("histogram"), "Tasks by draft WER", "WER"),
            _table(
                ["Task", "WER"],
                [
                    [row.get("task") or row.get("task_id"), _percent(row.get("wer"))]
                    for row in worst
                ],
                numeric={1},
                caption="Most corrected drafts",
            ),
        ]
    )


def _late(section: Mapping[str, Any]) -> str:
    tasks = section.get("tasks") or []
    heading = f"<h2>Not final by the deadline ({_text(section.get('deadline') or 'none set')})</h2>"
    return (
        heading
        + "\n"
        + _table(
            ["Task", "State", "Reason"],
            [[t.get("task_id"), t.get("state") or "—", t.get("reason")] for t in tasks],
        )
    )


# --- plots -----------------------------------------------------------------------------------


def _histogram_svg(histogram: Mapping[str, Any] | None, title: str, axis: str) -> str:
    counts = list((histogram or {}).get("counts") or [])
    edges = list((histogram or {}).get("edges") or [])
    above = int((histogram or {}).get("above") or 0)
    if not counts or (sum(counts) + above) == 0 or len(edges) != len(counts) + 1:
        return f'<p class="empty">{_text(title)}: no data</p>'
    labels = [f"{_percent(lo)}–{_percent(hi)}" for lo, hi in zip(edges, edges[1:], strict=False)]
    if above:
        counts.append(above)
        labels.append(f"> {_percent(edges[-1])}")
    width, height, left, bottom, top = 520, 230, 40, 40, 24
    plot_w, plot_h = width - left - 10, height - bottom - top
    tallest = max(counts)
    bar_w = plot_w / len(counts)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{_text(title)}">',
        f'<text x="{left}" y="14" font-weight="600">{_text(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#999"/>',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{tallest}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    for i, (count, label) in enumerate(zip(counts, labels, strict=True)):
        bar_h = plot_h * count / tallest
        x = left + i * bar_w
        colour = "#c0504d" if above and i == len(counts) - 1 else "#4f81bd"
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{top + plot_h - bar_h:.1f}" width="{bar_w - 2:.1f}" '
            f'height="{bar_h:.1f}" fill="{colour}"><title>{_text(label)}: {count}</title></rect>'
        )
        if i % max(1, len(counts) // 5) == 0 or i == len(counts) - 1:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 14}" text-anchor="middle">'
                f"{_text(label.split('–')[0])}</text>"
            )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle">'
        f"{_text(axis)} (bars: tasks)</text></svg>"
    )
    return "".join(parts)


def _gold_bars_svg(rows: Sequence[Mapping[str, Any]]) -> str:
    scored = [row for row in rows if row.get("gold_accuracy")]
    if not scored:
        return '<p class="empty">Gold accuracy per worker: no gold answers</p>'
    row_h, left, right, top = 22, 150, 70, 24
    plot_w = 520 - left - right
    height = top + row_h * len(scored) + 24
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="520" height="{height}" role="img" '
        'aria-label="Gold accuracy per worker">',
        '<text x="0" y="14" font-weight="600">Gold accuracy per worker (95 % interval)</text>',
    ]
    for i, row in enumerate(scored):
        estimate = row["gold_accuracy"]
        y = top + i * row_h
        value, low, high = (float(estimate.get(k) or 0.0) for k in ("value", "low", "high"))
        name = str(row.get("worker"))
        short = name if len(name) <= 22 else name[:21] + "…"
        parts.extend(
            [
                f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{_text(short)}'
                f"<title>{_text(name)}</title></text>",
                f'<rect x="{left}" y="{y + 3}" width="{plot_w * value:.1f}" height="{row_h - 6}" '
                f'fill="#4f81bd"><title>{_text(name)}: {_percent(value)} '
                f"({_interval(estimate)})</title></rect>",
                f'<line x1="{left + plot_w * low:.1f}" y1="{y + row_h / 2}" '
                f'x2="{left + plot_w * high:.1f}" y2="{y + row_h / 2}" stroke="#222"/>',
                f'<text x="{left + plot_w + 6}" y="{y + 14}">{_percent(value)}</text>',
            ]
        )
    axis_y = top + row_h * len(scored) + 14
    for tick in (0.0, 0.5, 1.0):
        parts.append(
            f'<text x="{left + plot_w * tick:.1f}" y="{axis_y}" text-anchor="middle">'
            f"{_percent(tick)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


# --- small pieces -----------------------------------------------------------------------------


def _card(label: str, value: str, note: str) -> str:
    return (
        f'<div class="card"><div>{_text(label)}</div><div class="value">{_text(value)}</div>'
        f'<div class="note">{_text(note)}</div></div>'
    )


_JOB_FIELDS = (
    ("client", "Client"), ("id", "Job"), ("kind", "Kind"), ("submitted", "Submitted (UTC)"),
    ("delivered", "Delivered (UTC)"), ("turnaround", "Turnaround"), ("files", "Files delivered"),
    ("tasks", "Tasks"), ("answers_used", "Answers used"), ("cost", "Cost"),
)  # fmt: skip


def _job_table(job: Mapping[str, Any]) -> str:
    rows: list[list[Any]] = [[label, job.get(key)] for key, label in _JOB_FIELDS if key in job]
    for row in rows:
        if row[0] == "Cost" and row[1] is None:
            row[1] = "not priced (no pay rates yet)"
    failed = job.get("failed_sources")
    if failed is not None:
        rows.append(["Files that failed", "; ".join(map(str, failed)) if failed else "none"])
    known = {key for key, _ in _JOB_FIELDS} | {"failed_sources"}
    rows += [[key, value] for key, value in job.items() if key not in known]
    return _table(["", ""], rows, header=False)


def _clock(seconds: Any) -> str:
    whole = float(seconds)
    minutes, rest = divmod(whole, 60)
    return f"{int(minutes)}:{rest:04.1f}"


def _table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    numeric: set[int] | frozenset[int] = frozenset(),
    caption: str | None = None,
    header: bool = True,
) -> str:
    if not rows:
        return f'<p class="empty">{_text(caption or "Nothing to list")}: none</p>'
    parts = ["<table>"]
    if caption:
        parts.append(f"<caption>{_text(caption)}</caption>")
    if header:
        parts.append("<tr>" + "".join(f"<th>{_text(h)}</th>" for h in headers) + "</tr>")
    for row in rows:
        cells = [
            f'<td class="num">{_text(cell)}</td>' if i in numeric else f"<td>{_text(cell)}</td>"
            for i, cell in enumerate(row)
        ]
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</table>")
    return "".join(parts)


def _percent(value: Any) -> str:
    if value is None:
        return "—"
    return f"{100 * float(value):.1f} %"


def _estimate_text(estimate: Mapping[str, Any] | None) -> str:
    if not estimate:
        return "—"
    return f"{_percent(estimate.get('value'))} ({_interval(estimate)})"


def _interval(estimate: Mapping[str, Any] | None) -> str:
    if not estimate:
        return "—"
    return f"{_percent(estimate.get('low'))} – {_percent(estimate.get('high'))}"


def _text(value: Any) -> str:
    """Any value as escaped HTML text (``None`` as a dash)."""
    return escape("—" if value is None else str(value), quote=True)
