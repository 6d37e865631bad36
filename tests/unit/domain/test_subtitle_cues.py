from __future__ import annotations

import random

import pytest

from engine.domain.draft import DraftWord
from engine.domain.subtitle_cues import (
    Cue,
    TimedWord,
    build_cues,
    ends_clause,
    ends_sentence,
)


def _spoken(text: str, start: float = 0.0, step: float = 0.3, length: float = 0.25) -> list:
    """Words of ``text`` spoken evenly: one every ``step`` seconds, each ``length`` long."""
    return [
        TimedWord(word, round(start + i * step, 3), round(start + i * step + length, 3))
        for i, word in enumerate(text.split())
    ]


def _assert_well_formed(cues: list[Cue], duration: float, max_chars: int = 42) -> None:
    assert [c.index for c in cues] == list(range(1, len(cues) + 1))
    for cue in cues:
        assert 0.0 <= cue.start <= cue.end <= duration
        lines = cue.text.split("\n")
        assert 1 <= len(lines) <= 2
        if " " in cue.text:  # a lone over-long word is the only allowed overflow
            assert all(len(line) <= max_chars for line in lines)
    for before, after in zip(cues, cues[1:], strict=False):
        assert before.end <= after.start


def _words_of(cues: list[Cue]) -> list[str]:
    return " ".join(c.text.replace("\n", " ") for c in cues).split()


def test_no_words_no_cues() -> None:
    assert build_cues([]) == []
    assert build_cues([TimedWord("  ", 0.0, 1.0)]) == []


def test_single_word_is_extended_to_the_minimum_duration() -> None:
    assert build_cues([TimedWord("Hello.", 0.5, 0.8)], duration=10.0) == [
        Cue(1, 0.5, 1.5, "Hello.")
    ]


def test_single_word_at_the_end_stops_at_the_end_of_the_audio() -> None:
    assert build_cues([TimedWord("Hi", 9.7, 9.9)], duration=10.0) == [Cue(1, 9.7, 10.0, "Hi")]


def test_words_past_the_audio_are_clamped_inside_it() -> None:
    # Both times clamp to 10.0; the cue borrows the gap before rather than last no time.
    assert build_cues([TimedWord("late", 12.0, 13.0)], duration=10.0) == [Cue(1, 9.0, 10.0, "late")]


def test_every_sentence_end_ends_a_cue() -> None:
    cues = build_cues(_spoken("Hello there. How are you? Fine! And you"), duration=5.0)
    assert [c.text for c in cues] == ["Hello there.", "How are you?", "Fine!", "And you"]
    _assert_well_formed(cues, 5.0)


def test_abbreviations_and_initials_do_not_end_a_sentence() -> None:
    cues = build_cues(_spoken('Mr. J. Smith met Dr. Who, e.g. today. "Really?" she asked.'))
    assert [c.text for c in cues] == [
        "Mr. J. Smith met Dr. Who, e.g. today.",
        '"Really?"',
        "she asked.",
    ]


def test_sentence_and_clause_marks() -> None:
    assert ends_sentence("end.") and ends_sentence('end?"') and ends_sentence("wait…")
    assert not ends_sentence("Mrs.") and not ends_sentence("A.") and not ends_sentence("word")
    assert ends_clause("well,") and ends_clause("so;") and ends_clause("(aside),")
    assert not ends_clause("word")


def test_long_sentence_without_punctuation_is_cut_into_even_full_cues() -> None:
    # 30 x "word": 8 fit on a 42-char line, 16 in a cue; 30 words need 2 cues, cut 15 + 15.
    words = _spoken(" ".join(["word"] * 30), step=0.25, length=0.2)
    cues = build_cues(words)
    assert len(cues) == 2
    assert [len(c.text.split()) for c in cues] == [15, 15]
    # Lines 7 + 8 words (34 and 39 chars): balanced, the shorter one on top.
    assert [len(line) for line in cues[0].text.split("\n")] == [34, 39]
    assert _words_of(cues) == ["word"] * 30
    _assert_well_formed(cues, words[-1].end)


def test_a_long_sentence_is_cut_after_a_comma_rather_than_anywhere() -> None:
    text = " ".join(["word"] * 6 + ["word,"] + ["word"] * 13)  # 20 words, 100 chars
    cues = build_cues(_spoken(text))
    assert [len(c.text.split()) for c in cues] == [7, 13]
    assert cues[0].text.endswith("word,")


def test_a_comma_is_preferred_over_a_pause() -> None:
    words = _spoken(" ".join(["word"] * 6 + ["word,"] + ["word"] * 13))
    # A 0.7 s pause after the 12th word: every later word starts 0.7 s later.
    paused = words[:12] + [TimedWord(w.text, w.start + 0.7, w.end + 0.7) for w in words[12:]]
    cues = build_cues(paused)
    assert [len(c.text.split()) for c in cues] == [7, 13]
    assert cues[0].text.endswith("word,")


def test_without_a_comma_a_pause_is_preferred_over_any_other_cut() -> None:
    words = _spoken(" ".join(["word"] * 20))
    paused = words[:12] + [TimedWord(w.text, w.start + 0.7, w.end + 0.7) for w in words[12:]]
    assert [len(c.text.split()) for c in build_cues(paused)] == [12, 8]


def test_a_short_pause_is_not_a_preferred_cut() -> None:
    words = _spoken(" ".join(["word"] * 6 + ["word,"] + ["word"] * 13))
    paused = words[:12] + [TimedWord(w.text, w.start + 0.2, w.end + 0.2) for w in words[12:]]
    assert [len(c.text.split()) for c in build_cues(paused)] == [7, 13]


def test_slow_speech_is_cut_at_the_maximum_duration() -> None:
    words = _spoken("one two three four five six seven eight nine ten", step=1.0, length=0.9)
    cues = build_cues(words)
    assert [c.text for c in cues] == ["one two three four five", "six seven eight nine ten"]
    assert all(c.end - c.start <= 7.0 for c in cues)


def test_identical_timestamps_share_the_time_evenly() -> None:
    same = [TimedWord(w, 2.0, 2.0) for w in ("all", "at", "once")]
    assert build_cues(same, duration=5.0) == [Cue(1, 2.0, 3.0, "all at once")]

    many = [TimedWord("word", 1.0, 1.0) for _ in range(30)]
    cues = build_cues(many, duration=10.0)
    assert [(c.start, c.end) for c in cues] == [(1.0, 2.0), (2.0, 3.0)]
    _assert_well_formed(cues, 10.0)


def test_short_cue_is_extended_only_up_to_the_next_cue() -> None:
    cues = build_cues([TimedWord("Yes.", 0.0, 0.2), TimedWord("No.", 0.5, 0.7)], duration=3.0)
    assert [(c.start, c.end) for c in cues] == [(0.0, 0.5), (0.5, 1.5)]


def test_overlapping_word_times_never_make_overlapping_cues() -> None:
    words = [
        TimedWord("First", 0.0, 0.5),
        TimedWord("one.", 0.5, 2.5),  # runs past the next word's start
        TimedWord("Second", 2.0, 2.4),
        TimedWord("one.", 1.9, 3.0),  # earlier than the word before: raised to 2.0
    ]
    cues = build_cues(words, duration=4.0)
    assert [(c.start, c.end, c.text) for c in cues] == [
        (0.0, 2.0, "First one."),
        (2.0, 3.0, "Second one."),
    ]


def test_compound_fragments_are_never_split() -> None:
    words = _spoken(" ".join(["word"] * 15) + " flower -fattened " + " ".join(["word"] * 15))
    cues = build_cues(words)
    assert "flower-fattened" in _words_of(cues)
    assert "-fattened" not in _words_of(cues)


def test_an_over_long_word_gets_a_cue_of_its_own() -> None:
    url = "https://example.org/" + "x" * 80
    cues = build_cues(_spoken(f"see {url} now"))
    assert [c.text for c in cues] == ["see", url, "now"]


def test_random_transcripts_give_well_formed_cues() -> None:
    rng = random.Random(7)
    vocabulary = ["a", "the", "word", "speech", "recognition,", "engine.", "okay?", "transcribe"]
    for _ in range(30):
        t, words = 0.0, []
        for _ in range(rng.randint(1, 120)):
            start = t + rng.choice([0.0, 0.05, 0.1, 0.8])
            end = start + rng.choice([0.0, 0.1, 0.4, 1.5])
            words.append(TimedWord(rng.choice(vocabulary), start, end))
            t = start if rng.random() < 0.1 else end  # sometimes identical starts
        duration = t + rng.choice([0.0, 2.0])
        cues = build_cues(words, duration=duration)
        _assert_well_formed(cues, duration)
        assert _words_of(cues) == [w.text for w in words]


def test_draft_words_use_their_source_times() -> None:
    draft = DraftWord("hi", 0.1, 0.4, 30.1, 30.4, 0.9)
    assert TimedWord.from_draft(draft) == TimedWord("hi", 30.1, 30.4)


@pytest.mark.parametrize(
    "settings",
    [
        {"max_chars_per_line": 0},
        {"max_lines": 0},
        {"max_duration": 0.0},
        {"min_duration": 8.0},
        {"pause_split": -1.0},
        {"duration": -1.0},
    ],
)
def test_bad_settings_are_refused(settings: dict) -> None:
    with pytest.raises(ValueError):
        build_cues([TimedWord("a", 0.0, 1.0)], **settings)


def test_cue_refuses_impossible_values() -> None:
    with pytest.raises(ValueError):
        Cue(1, 2.0, 1.0, "backwards")
    with pytest.raises(ValueError):
        Cue(1, 0.0, 1.0, " ")
