"""Delivered transcripts keep what workers typed: case, punctuation, numerals as written.

On the shared clips with punctuated references (jfk, the Harvard sentences), three simulated
workers type the reference with small, different slips each (a lost comma, a lower-cased word,
a misheard word, a dropped word); the answers go through the text merge and the transcript
assembly as in production, and the delivered TXT, cues and JSON are checked. The audio gives
the duration; word times are spread over it (no recogniser runs here), with a pause between
sentences. Both WERs of the deliverable are printed: normalised, and as written.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from engine.assembly.transcripts import assemble_transcript
from engine.db.models import DraftRow, SourceMediaRow, TaskResultRow, TaskRow
from engine.domain.draft import DraftWord
from engine.domain.scoring import transcript_wer
from engine.domain.subtitle_cues import ends_clause, ends_sentence
from engine.media.audio import probe_audio
from engine.quality.consensus import AnswerIn, merge_texts

SPEECH = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "speech"
JFK = SPEECH / "jfk.flac"
HARVARD = SPEECH / "harvard-OSR_us_000_0034_8k.wav"
# From ../shared/data/README.md (the jfk reference is only written there).
JFK_REFERENCE = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
NEAR_MISSES = {"ring": "rink", "cat": "hat", "coins": "coin", "storm": "store", "you": "ya"}

pytestmark = pytest.mark.skipif(not SPEECH.is_dir(), reason="shared speech clips not present")


def _harvard_reference() -> str:
    return str(json.loads((SPEECH / HARVARD.with_suffix(".json").name).read_text())[0]
               ["transcription"])  # fmt: skip


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.findall(r"[^.?!]+[.?!]", text)]


def _slip(sentence: str, rng: random.Random) -> str:
    """One small worker slip in ``sentence``."""
    words = sentence.split()
    i = rng.randrange(len(words))
    kind = rng.choice(["punctuation", "case", "near miss", "drop"])
    if kind == "punctuation" and words[i][-1] in ",.?!":
        words[i] = words[i][:-1]
    elif kind == "case":
        words[i] = words[i].lower()
    elif kind == "near miss":
        core = words[i].rstrip(",.?!")
        words[i] = NEAR_MISSES.get(core.lower(), core + "s") + words[i][len(core) :]
    elif len(words) > 1:
        del words[i]
    return " ".join(words)


def _worker_answer(sentences: list[str], rng: random.Random) -> str:
    # Each sentence has a one-in-three chance of a slip: workers are good, not perfect.
    return " ".join(_slip(s, rng) if rng.random() < 1 / 3 else s for s in sentences)


def _draft_words(sentences: list[str], start: float, end: float) -> list[DraftWord]:
    """The recogniser's draft: lower case, no punctuation, words spread over [start, end]
    with a 0.8 s pause after every sentence."""
    pause = 0.8
    count = sum(len(s.split()) for s in sentences)
    step = (end - start - pause * len(sentences)) / count
    words: list[DraftWord] = []
    t = start
    for sentence in sentences:
        for word in sentence.split():
            text = re.sub(r"[^\w']", "", word.lower())
            words.append(DraftWord(text, t - start, t + 0.8 * step - start, t,
                                   t + 0.8 * step, 0.8))  # fmt: skip
            t += step
        t += pause
    return words


def _deliver(name: str, reference: str, path: Path, tasks_count: int, seed: int):  # type: ignore[no-untyped-def]
    duration = probe_audio(path).duration_seconds
    sentences = _sentences(reference)
    assert " ".join(sentences) == reference
    per_task = -(-len(sentences) // tasks_count)
    groups = [sentences[i : i + per_task] for i in range(0, len(sentences), per_task)]
    source = SourceMediaRow(id="s", filename=path.name, sha256="0" * 64, duration_seconds=duration)
    rng = random.Random(seed)
    tasks, drafts, answers, draft_texts = [], {}, [], {}
    words_before = 0
    total_words = len(reference.split())
    for n, group in enumerate(groups):
        task_id = f"{name}-{n}"
        words_here = sum(len(s.split()) for s in group)
        start = duration * words_before / total_words
        end = duration * (words_before + words_here) / total_words
        words_before += words_here
        tasks.append(TaskRow(id=task_id, start_seconds=start, end_seconds=end))
        draft = _draft_words(group, start, end)
        drafts[task_id] = DraftRow(task_id=task_id, text=" ".join(w.word for w in draft),
                                   words=[w.to_json() for w in draft])  # fmt: skip
        draft_texts[task_id] = drafts[task_id].text
        for worker in ("w1", "w2", "w3"):
            answers.append(AnswerIn(task_id, worker, {"text": _worker_answer(group, rng)}))
    # The slips are there to be outvoted: some answers must differ from the reference.
    assert {a.payload["text"] for a in answers} - {" ".join(g) for g in groups}
    merged = merge_texts(answers, {}, draft_texts)
    results = {
        task_id: TaskResultRow(task_id=task_id, consensus=m.payload, final=m.payload,
                               agreement=m.agreement, detail=m.detail, answers=m.answers)
        for task_id, m in merged.items()
    }  # fmt: skip
    files = assemble_transcript(source, tasks, results, drafts, name)
    tokens_only = " ".join(
        " ".join(w["word"] for w in m.detail["words"]).lower() for m in merged.values()
    )
    return files, re.sub(r"[^\w' ]", "", tokens_only)


@pytest.mark.parametrize(
    ("name", "path", "tasks_count", "seed"), [("jfk", JFK, 1, 7), ("harvard", HARVARD, 2, 11)]
)
def test_the_delivered_transcript_keeps_capitals_punctuation_and_sentence_cues(
    name: str, path: Path, tasks_count: int, seed: int
) -> None:
    reference = JFK_REFERENCE if name == "jfk" else _harvard_reference()
    files, lower_case_text = _deliver(name, reference, path, tasks_count, seed)
    txt = files.files[f"{name}.txt"][0].decode()
    delivered = txt.strip()
    wer = transcript_wer([(reference, delivered)])
    flat = transcript_wer([(reference, lower_case_text)])
    print(f"\n{name}: delivered WER {100 * wer.normalised:.2f} % normalised, "
          f"{100 * wer.surface:.2f} % case- and punctuation-sensitive "
          f"({wer.reference_words} reference words); normalised tokens as text would score "
          f"{100 * flat.surface:.2f} % case- and punctuation-sensitive")  # fmt: skip

    # Capitals and punctuation survive: every reference sentence's end mark and first capital.
    sentences = _sentences(reference)
    assert len(_sentences(delivered)) == len(sentences)
    assert all(s[0].isupper() for s in _sentences(delivered))
    assert delivered.count(",") == reference.count(",")
    assert wer.surface < flat.surface  # writing the voted tokens would lose case and commas
    assert wer.surface <= 2 * wer.normalised + 0.05

    # Cues end at punctuation, and one cue ends with each sentence.
    cues = json.loads(files.files[f"{name}.json"][0])["cues"]
    assert all(ends_sentence(c["text"]) or ends_clause(c["text"]) for c in cues)
    assert sum(ends_sentence(c["text"]) for c in cues) == len(sentences)
    assert files.files[f"{name}.srt"][0].decode().count(" --> ") == len(cues)

    # Every word carries a confidence in [0, 1] and an agreement.
    words = json.loads(files.files[f"{name}.json"][0])["words"]
    assert words and all(0.0 <= w["confidence"] <= 1.0 for w in words)
    assert all(w["agreement"] is not None for w in words)
