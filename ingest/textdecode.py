"""Bytes -> str for text files and subtitles written on Japanese PCs.

Why not just charset-normalizer: on short Japanese text ("旋盤のびびり対策",
16 bytes in Shift_JIS) it often guesses a Chinese or Cyrillic code page, and
Japanese shop-floor files come in exactly three encodings in practice: UTF-8
(with or without the BOM Notepad writes), Shift_JIS (Windows' cp932, the
default of older Japanese Windows and Excel CSV exports) and EUC-JP (old Unix
systems).  So: BOMs first, then strict UTF-8 (invalid UTF-8 is very unlikely
to be anything else by accident), then strict cp932 and EUC-JP decodes scored
by how much of the result is plausible Japanese text, and charset-normalizer
only as the fallback for everything else (Latin-1, GB18030, ...).

The scoring matters because the two Japanese encodings overlap: EUC-JP bytes
(0xA1-0xFE pairs) usually decode "successfully" as cp932, but into half-width
katakana and odd kanji, while real text is dominated by hiragana.
"""

from __future__ import annotations

import codecs

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

# The Japanese candidates, in the order that wins a tie (Windows first).
_JAPANESE_ENCODINGS = ("cp932", "euc_jp")

# Below this share of plausible characters a strict Japanese decode is not believed.
_MIN_PLAUSIBLE = 0.70


class TextDecodeError(ValueError):
    """The bytes are not text in any encoding we can recognise."""


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode the bytes of a text file; returns ``(text, encoding)``.

    The text keeps its line breaks as they are (``\\r\\n`` included) and has no
    BOM.  ``encoding`` is a Python codec name: ``utf-8``, ``utf-8-sig``,
    ``utf-16``, ``utf-32``, ``cp932``, ``euc_jp``, ``iso2022_jp`` or whatever
    charset-normalizer found.  Raises :class:`TextDecodeError` for binary data.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError as e:
                raise TextDecodeError(f"starts with a {encoding} byte-order mark but is not valid {encoding}") from e
    if b"\x00" in data:
        raise TextDecodeError("contains NUL bytes: binary data, not text")
    if b"\x1b$" in data and max(data) < 0x80:  # ISO-2022-JP (JIS) escape sequences, as in old e-mail
        try:
            return data.decode("iso2022_jp"), "iso2022_jp"
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    best = _best_japanese(data)
    if best is not None:
        return best
    return _charset_normalizer(data)


def japanese_plausibility(text: str) -> float:
    """Share (0..1) of characters that are what Japanese text is made of.

    Hiragana, katakana, kanji, Japanese punctuation, full-width forms, ASCII and
    whitespace count fully; half-width katakana count most of a character (real
    in old industrial files, but also what mis-decoded EUC-JP turns into, along
    with half-width ､｢｣ that count little); private-use and control characters
    count nothing.
    """
    if not text:
        return 0.0
    score = 0.0
    for ch in text:
        o = ord(ch)
        if 0x20 <= o < 0x7F or ch in "\t\r\n":
            score += 1.0
        elif 0x3040 <= o <= 0x30FF or 0x4E00 <= o <= 0x9FFF or 0x3000 <= o <= 0x303F or 0xFF01 <= o <= 0xFF5E:
            score += 1.0  # kana, common kanji, 、。「」, full-width ＡＢＣ１２３
        elif 0xFF66 <= o <= 0xFF9F:
            score += 0.7  # half-width katakana: real in old industrial files (ﾌﾗｲｽ盤)...
        elif 0xFF61 <= o <= 0xFF65:
            score += 0.2  # ...but ｡｢｣､･ alone are what mis-decoded EUC-JP hiragana turns into
        elif 0x2460 <= o <= 0x24FF or 0x2500 <= o <= 0x257F or 0x2190 <= o <= 0x22FF or 0x25A0 <= o <= 0x26FF:
            score += 0.8  # ①②, box drawing, arrows, math, ■●★: common in manuals
        elif 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF or o in (0xA7, 0xA8, 0xB0, 0xB1, 0xB4, 0xB6, 0xD7, 0xF7):
            score += 0.5  # rare kanji, compatibility ideographs, §¨°±´¶×÷ (in JIS X 0208)
        elif 0x0391 <= o <= 0x03C9 or 0x0410 <= o <= 0x044F:
            score += 0.5  # Greek and Cyrillic letters of JIS X 0208 (α, β, Ω ...)
    return score / len(text)


def _best_japanese(data: bytes) -> tuple[str, str] | None:
    best: tuple[float, str, str] | None = None
    for encoding in _JAPANESE_ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        score = japanese_plausibility(text)
        if score >= _MIN_PLAUSIBLE and (best is None or score > best[0]):
            best = (score, text, encoding)
    return None if best is None else (best[1], best[2])


def _charset_normalizer(data: bytes) -> tuple[str, str]:
    from charset_normalizer import from_bytes

    match = from_bytes(data).best()
    if match is None:
        raise TextDecodeError("not text in any encoding recognised (UTF-8, Shift_JIS, EUC-JP, ...)")
    return str(match), match.encoding
