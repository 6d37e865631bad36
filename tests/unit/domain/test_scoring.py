"""Scoring and normalisation: hand-checked cases, empty references included."""

import pytest

from engine.domain.scoring import (
    WordEdit,
    character_error_rate,
    corpus_error_counts,
    corpus_word_error_rate,
    mean_utterance_wer,
    surface_word_error_rate,
    transcript_wer,
    word_diff,
    word_error_counts,
    word_error_rate,
)
from engine.domain.text_normalization import (
    cardinal_words,
    crowdspeech_normalize,
    normalize_text,
    normalize_words,
    spoken_form,
)


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("Hello,   World!", "hello world"),
        ("Don’t stop", "don't stop"),  # typographic apostrophe unified, kept inside words
        ("'quoted' words", "quoted words"),  # quotes removed
        ("air-tight—vessel", "air tight vessel"),  # hyphens and dashes break words
        ("100,000 and 3.5 and 1839.", "100000 and 3.5 and 1839"),  # digits stay digits
        ("4:00 3/4", "4 00 3 4"),
        ("line\r\nbreak\ttab", "line break tab"),
        ("snake_case", "snake case"),
        ("  ", ""),
        ("?!...", ""),
    ],
)
def test_normalize_text(raw: str, normalised: str) -> None:
    assert normalize_text(raw) == normalised


def test_normalize_words_splits_the_normalised_text() -> None:
    assert normalize_words("The CAT, sat.") == ["the", "cat", "sat"]


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("Don't stop!", "don't stop"),
        ("Don’t air-tight", "dont airtight"),  # deletes, never splits
        ("3.5  and\nmore", "35 and more"),
        ("snake_case", "snake_case"),  # underscore is a word character
    ],
)
def test_crowdspeech_normalize(raw: str, normalised: str) -> None:
    assert crowdspeech_normalize(raw) == normalised


def test_word_error_rate_hand_checked() -> None:
    # one substitution (sat -> sit) and one deletion (mat) over six reference words
    assert word_error_rate("The cat sat on the mat.", "the cat sit on the") == pytest.approx(2 / 6)
    counts = word_error_counts("the cat sat on the mat", "the cat sit on the")
    assert (counts.hits, counts.substitutions, counts.deletions, counts.insertions) == (4, 1, 1, 0)


def test_word_error_rate_ignores_case_and_punctuation() -> None:
    assert word_error_rate("Ask not, what your country", "ask NOT what your country!") == 0.0


def test_word_error_rate_can_exceed_one() -> None:
    assert word_error_rate("yes", "no no no") == pytest.approx(3.0)


@pytest.mark.parametrize(
    ("reference", "hypothesis", "expected"),
    [
        ("", "", 0.0),
        ("", "something said", 1.0),
        ("...", "", 0.0),  # punctuation-only reference normalises to empty
        ("?!", "word", 1.0),
        ("two words", "", 1.0),
    ],
)
def test_empty_reference_and_hypothesis(reference: str, hypothesis: str, expected: float) -> None:
    assert word_error_rate(reference, hypothesis) == expected
    assert character_error_rate(reference, hypothesis) == expected


def test_character_error_rate_hand_checked() -> None:
    # "kitten sat" -> "sitting sat": k->s, e->i, +g = 3 edits over 10 characters
    assert character_error_rate("kitten sat", "sitting sat") == pytest.approx(3 / 10)


def test_corpus_wer_pools_errors_instead_of_averaging() -> None:
    pairs = [("a b c d e f g h i j", "a b c d e f g h i j"), ("yes", "no")]
    assert corpus_word_error_rate(pairs) == pytest.approx(1 / 11)
    assert mean_utterance_wer(pairs) == pytest.approx(0.5)
    counts = corpus_error_counts(pairs)
    assert (counts.errors, counts.reference_length) == (1, 11)


def test_corpus_wer_counts_insertions_of_empty_references() -> None:
    assert corpus_word_error_rate([("one two", "one two"), ("", "extra")]) == pytest.approx(1 / 2)
    assert corpus_word_error_rate([("", ""), ("", "")]) == 0.0
    assert corpus_word_error_rate([("", "x")]) == 1.0


def test_mean_utterance_wer_uses_the_authors_normalisation_by_default() -> None:
    # their normalisation deletes the hyphen: "airtight" == "air-tight", "air tight" is 2 errors
    assert mean_utterance_wer([("airtight", "air-tight")]) == 0.0
    assert mean_utterance_wer([("airtight", "air tight")]) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="at least one"):
        mean_utterance_wer([])


def test_word_diff_reports_spans_with_positions() -> None:
    edits = word_diff("the quick brown fox jumps", "The quick fox jumped high")
    assert edits == [
        WordEdit("delete", 2, 3, 2, 2, ("brown",), ()),
        WordEdit("substitute", 4, 5, 3, 4, ("jumps",), ("jumped",)),
        WordEdit("insert", 5, 5, 4, 5, (), ("high",)),
    ]


def test_word_diff_of_equal_and_empty_texts() -> None:
    assert word_diff("Same words.", "same words") == []
    assert word_diff("", "") == []
    assert word_diff("", "new words") == [WordEdit("insert", 0, 0, 0, 2, (), ("new", "words"))]
    assert word_diff("old", "") == [WordEdit("delete", 0, 1, 0, 0, ("old",), ())]


@pytest.mark.parametrize(
    ("number", "words"),
    [
        (0, "zero"),
        (13, "thirteen"),
        (40, "forty"),
        (105, "one hundred five"),
        (1000, "one thousand"),
        (2_000_021, "two million twenty one"),
    ],
)
def test_cardinal_words(number: int, words: str) -> None:
    assert " ".join(cardinal_words(number)) == words


def test_spoken_form_spells_out_numbers_years_ordinals_and_titles() -> None:
    tokens = normalize_words("Mrs. Smith paid 16 pounds in 1839, 1905 and 1900; the 22nd, 3.5 Dr")
    assert " ".join(spoken_form(tokens)) == (
        "missus smith paid sixteen pounds in eighteen thirty nine nineteen o five and "
        "nineteen hundred the twenty second three point five doctor"
    )
    assert spoken_form(["2000", "1st", "12th", "20s", "mister"]) == [
        *("two", "thousand", "first", "twelfth", "20s", "mister")
    ]


def test_surface_wer_counts_case_and_punctuation_and_collapses_only_whitespace() -> None:
    reference = "Good morning, and welcome."
    assert surface_word_error_rate(reference, "Good   morning,\nand welcome.") == 0.0
    assert surface_word_error_rate(reference, "good morning and welcome") == 0.75
    pairs = [(reference, "good morning, and welcome."), ("Ask not.", "Ask not.")]
    both = transcript_wer(pairs)
    assert both.normalised == 0.0
    assert both.surface == pytest.approx(1 / 6)
    assert both.reference_words == 6
