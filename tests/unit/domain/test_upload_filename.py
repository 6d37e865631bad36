"""Client-supplied filenames: plain, printable, bounded, NFC."""

from __future__ import annotations

import unicodedata

import pytest

from engine.domain.upload_filename import MAX_FILENAME_BYTES, BadFilename, check_upload_filename


@pytest.mark.parametrize(
    "name",
    [
        "clip.wav",
        "My Clip (1).final.WAV",
        "a..b.wav",  # dots inside a name are not a path
        ".hidden.wav",
        "ñandú.wav",
        "音声データ.flac",
        "صوت.mp3",
        "🎤 take 2.m4a",
        "no_extension",
        "-rf",
    ],
)
def test_plain_names_are_kept(name: str) -> None:
    assert check_upload_filename(name) == name


@pytest.mark.parametrize("name", [None, "", " ", "   ", "\t", "\n \r\n"])
def test_a_missing_or_blank_name_is_refused(name: str | None) -> None:
    with pytest.raises(BadFilename, match="needs a filename"):
        check_upload_filename(name)


@pytest.mark.parametrize(
    "name",
    [
        "a/b.wav",
        "/etc/passwd",
        "../clip.wav",
        "clip.wav/",
        "a\\b.wav",
        "..\\..\\clip.wav",
        "C:\\Users\\clip.wav",
        ".",
        "..",
        "...",
        "..clip.wav",
    ],
)
def test_anything_like_a_path_is_refused(name: str) -> None:
    with pytest.raises(BadFilename, match="plain name"):
        check_upload_filename(name)


@pytest.mark.parametrize(
    "name",
    [
        "clip\x00.wav",  # NUL truncates names in C APIs
        "clip\n.wav",
        "clip\r\n.wav",
        "a\tb.wav",
        "clip\x1b[31m.wav",  # terminal escape
        "clip\x7f.wav",  # DEL
        "clip\x85.wav",  # NEL, a C1 control
        "clip\x9b.wav",  # CSI, a C1 control
    ],
)
def test_control_characters_are_refused(name: str) -> None:
    with pytest.raises(BadFilename, match="control characters"):
        check_upload_filename(name)


@pytest.mark.parametrize(
    ("stem", "fits"),
    [
        ("a" * 251, True),  # 251 + 4 = 255 bytes
        ("a" * 252, False),
        ("é" * 125, True),  # 2 bytes each: 250 + 4 = 254
        ("é" * 126, False),  # 256
        ("音" * 83, True),  # 3 bytes each: 249 + 4 = 253
        ("音" * 84, False),  # 256
        ("🎤" * 62 + "abc", True),  # 4 bytes each: 248 + 3 + 4 = 255
        ("🎤" * 63, False),  # 252 + 4 = 256
    ],
)
def test_the_length_limit_is_255_utf8_bytes(stem: str, fits: bool) -> None:
    assert MAX_FILENAME_BYTES == 255
    name = stem + ".wav"
    if fits:
        assert check_upload_filename(name) == name
    else:
        with pytest.raises(BadFilename, match="longer than 255 bytes"):
            check_upload_filename(name)


@pytest.mark.parametrize(
    ("given", "nfc"),
    [
        ("e\u0301.wav", "\u00e9.wav"),  # macOS sends decomposed names
        ("\u1100\u1161.wav", "\uac00.wav"),  # Hangul jamo compose to one syllable
        ("A\u030a.png", "\u00c5.png"),
        ("\u00e9.wav", "\u00e9.wav"),  # already composed
    ],
)
def test_names_come_back_composed(given: str, nfc: str) -> None:
    assert check_upload_filename(given) == nfc


def test_the_result_is_always_nfc() -> None:
    for name in ["Ame\u0301lie\u0300.wav", "c\u0327a.ogg", "\u212b.png", "ﬁle.wav"]:
        result = check_upload_filename(name)
        assert unicodedata.is_normalized("NFC", result)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (b"caf\xe9.wav", "caf\u00e9.wav"),  # Latin-1 bytes from an old client
        (b"\xc0\xe0.wav", "\u00c0\u00e0.wav"),
    ],
)
def test_undecodable_bytes_are_read_as_latin1(raw: bytes, shown: str) -> None:
    # What os.fsdecode makes of bytes that are not UTF-8.
    assert check_upload_filename(raw.decode("utf-8", "surrogateescape")) == shown


def test_undecodable_bytes_that_are_c1_controls_are_refused() -> None:
    with pytest.raises(BadFilename, match="control characters"):
        check_upload_filename(b"clip\x85.wav".decode("utf-8", "surrogateescape"))


@pytest.mark.parametrize(
    "name",
    [
        "clip\ud800.wav",  # a lone high surrogate, e.g. from a JSON "\ud800" escape
        "clip\udfff.wav",  # a lone low surrogate outside the surrogateescape range
        "\ud83c\udfa4.wav",  # a surrogate pair left uncombined is not text either
        "caf\udce9\ud800.wav",  # an escaped byte does not excuse a lone surrogate
    ],
)
def test_a_lone_surrogate_is_a_bad_filename(name: str) -> None:
    with pytest.raises(BadFilename, match="not valid Unicode"):
        check_upload_filename(name)


def test_a_name_that_nfc_lengthens_past_the_limit_is_refused() -> None:
    name = "\u0958" * 85  # 255 bytes as sent; NFC makes each U+0915 U+093C, 6 bytes
    assert len(name.encode()) == MAX_FILENAME_BYTES
    assert len(unicodedata.normalize("NFC", name).encode()) == 2 * MAX_FILENAME_BYTES
    with pytest.raises(BadFilename, match="longer than 255 bytes"):
        check_upload_filename(name)


def test_a_decomposed_name_that_fits_once_composed_is_accepted() -> None:
    name = "e\u0301" * 125 + ".wav"  # 379 bytes as a Mac sends it, 254 composed
    assert len(name.encode()) > MAX_FILENAME_BYTES
    assert check_upload_filename(name) == "\u00e9" * 125 + ".wav"


@pytest.mark.parametrize(
    ("stem", "fits"),
    [
        ("e\u0301" * 125, True),
        ("e\u0301" * 126, False),
        ("\u0958" * 41, True),
        ("\u0958" * 42, False),
    ],
)
def test_the_limit_applies_to_the_name_returned(stem: str, fits: bool) -> None:
    # 125/126 "é" are 254/256 bytes with ".wav"; 41/42 U+0958 are 246+4/252+4 once composed.
    name = stem + ".wav"
    if fits:
        result = check_upload_filename(name)
        assert len(result.encode()) <= MAX_FILENAME_BYTES
        assert result == unicodedata.normalize("NFC", name)
    else:
        with pytest.raises(BadFilename, match="longer than 255 bytes"):
            check_upload_filename(name)


@pytest.mark.parametrize(
    "name",
    [
        "clip\u202egnp.exe",  # RIGHT-TO-LEFT OVERRIDE: shown as "clipexe.png"
        "clip\u202dx.wav",  # LEFT-TO-RIGHT OVERRIDE
        "clip\u202a.wav",  # LEFT-TO-RIGHT EMBEDDING
        "clip\u202b.wav",  # RIGHT-TO-LEFT EMBEDDING
        "clip\u202c.wav",  # POP DIRECTIONAL FORMATTING
        "clip\u2066.wav",  # LEFT-TO-RIGHT ISOLATE
        "clip\u2067.wav",  # RIGHT-TO-LEFT ISOLATE
        "clip\u2068.wav",  # FIRST STRONG ISOLATE
        "clip\u2069.wav",  # POP DIRECTIONAL ISOLATE
        "clip\u200e.wav",  # LEFT-TO-RIGHT MARK
        "clip\u200f.wav",  # RIGHT-TO-LEFT MARK
        "\u0635\u0648\u062a\u061c.mp3",  # ARABIC LETTER MARK
        "clip\u2028.wav",  # LINE SEPARATOR
        "clip\u2029.wav",  # PARAGRAPH SEPARATOR
    ],
)
def test_bidirectional_controls_and_line_separators_are_refused(name: str) -> None:
    with pytest.raises(BadFilename, match="bidirectional controls or line separators"):
        check_upload_filename(name)


def test_joiners_in_emoji_and_scripts_are_kept() -> None:
    # Zero-width joiners are part of ordinary text (emoji sequences, Indic scripts).
    for name in ["\U0001f468\u200d\U0001f469\u200d\U0001f467.png", "\u0915\u094d\u200d.wav"]:
        assert check_upload_filename(name) == name
