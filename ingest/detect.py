"""What kind of file is this?  Decided from the bytes, not the name.

Uploads come from phones, cameras, Office and old PCs, and names lie: a
phone's voice memo is an .mp4 with no picture, a renamed file keeps its old
extension, and a text file called clip.mp4 must not reach ffmpeg.  So the
container is read from its magic bytes (ISO-BMFF ``ftyp`` brands and track
handlers, EBML DocType and track types, RIFF form types, MPEG audio frame
headers, ``%PDF``, zip members), and the extension only tells apart flavours
of text (Markdown, plain text, subtitles) or breaks a tie.

Playlists and ffmpeg concat scripts are refused here, before any ffmpeg call:
they make ffmpeg open other files or URLs (the classic SSRF / local file read
through an uploaded .m3u8).

``kind`` says what the pipeline does with the file: ``video`` and ``audio``
are transcribed (the difference is only whether there is a picture to show),
``document`` text is extracted, ``subtitle`` is read as a transcript, and
``unknown`` is refused with ``reason``, one line for a human.
"""

from __future__ import annotations

import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

VIDEO_FORMATS = frozenset({"mp4", "mov", "mkv", "webm", "avi", "3gp", "ts", "m2ts", "mpg", "wmv", "flv", "ogv"})
AUDIO_FORMATS = frozenset({"wav", "mp3", "m4a", "flac", "ogg", "opus", "aac", "aiff", "wma"})
DOCUMENT_FORMATS = frozenset({"pdf", "docx", "md", "txt", "html"})
SUBTITLE_FORMATS = frozenset({"srt", "vtt"})
SUPPORTED_FORMATS = VIDEO_FORMATS | AUDIO_FORMATS | DOCUMENT_FORMATS | SUBTITLE_FORMATS

# File-name extensions (lower case, no dot) of each format, for tie-breaks and messages.
EXTENSIONS = {
    "mp4": ("mp4", "m4v"),
    "mov": ("mov", "qt"),
    "mkv": ("mkv", "mka"),
    "webm": ("webm",),
    "avi": ("avi",),
    "3gp": ("3gp", "3g2"),
    "ts": ("ts", "mts"),
    "m2ts": ("m2ts", "mts"),
    "mpg": ("mpg", "mpeg", "vob"),
    "wmv": ("wmv", "asf"),
    "flv": ("flv",),
    "ogv": ("ogv",),
    "wav": ("wav",),
    "mp3": ("mp3",),
    "m4a": ("m4a", "m4b"),
    "flac": ("flac",),
    "ogg": ("ogg", "oga"),
    "opus": ("opus",),
    "aac": ("aac",),
    "aiff": ("aif", "aiff", "aifc"),
    "wma": ("wma",),
    "pdf": ("pdf",),
    "docx": ("docx",),
    "md": ("md", "markdown", "mdown", "mkd"),
    "txt": ("txt", "text"),
    "html": ("html", "htm", "xhtml"),
    "srt": ("srt",),
    "vtt": ("vtt",),
}
_EXT_TO_FORMAT = {ext: fmt for fmt, exts in EXTENSIONS.items() for ext in exts}
_PLAYLIST_EXTS = {"m3u", "m3u8", "pls", "ffconcat", "concat", "xspf", "asx", "cue"}

_HEAD = 64 * 1024  # bytes read to decide


@dataclass(frozen=True)
class Detected:
    kind: str  # "video" | "audio" | "document" | "subtitle" | "unknown"
    format: str | None  # e.g. "mp4", "m4a", "pdf", "md", "srt"; for unknown, what it is if we can tell
    reason: str | None = None  # set when kind is "unknown": why the file is refused, one line
    note: str | None = None  # set when the name disagrees with the content (the content won)


def _kind_of(fmt: str) -> str:
    if fmt in VIDEO_FORMATS:
        return "video"
    if fmt in AUDIO_FORMATS:
        return "audio"
    if fmt in SUBTITLE_FORMATS:
        return "subtitle"
    return "document"


def detect(path: str | os.PathLike) -> Detected:
    """Detect a file's kind and format from its content (see the module docstring)."""
    path = Path(path)
    ext = path.suffix.lower().lstrip(".")
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(_HEAD)
            found = _sniff_binary(f, head, size) if head else None
    except OSError as e:
        return Detected("unknown", None, f"cannot be read ({e.strerror or e})")
    if size == 0:
        return Detected("unknown", None, "empty file (0 bytes)")
    if found is None:
        found = _sniff_text(head, ext, truncated=size > len(head))
    return _check_name(found, ext)


_TEXT_KINDS = {"md", "txt", "html", "srt", "vtt"}
_DESCRIBED = {"pdf": "a PDF", "docx": "a Word document"}


def _check_name(found: Detected, ext: str) -> Detected:
    """Text under a binary format's name is refused; other disagreements are noted (the content wins)."""
    named = _EXT_TO_FORMAT.get(ext)
    if found.kind == "unknown" or named is None or ext in EXTENSIONS.get(found.format or "", ()):
        return found
    if found.format in _TEXT_KINDS and named not in _TEXT_KINDS:
        what = "a subtitle file" if found.kind == "subtitle" else "text"
        expected = _DESCRIBED.get(named, _kind_of(named))
        return Detected("unknown", found.format, f"content is {what}, not {expected} (the file is named .{ext})")
    return Detected(found.kind, found.format, None, f"named .{ext} but the content is {found.format}")


_REFUSAL_CODES = {
    "png": "image",
    "jpeg": "image",
    "gif": "image",
    "tiff": "image",
    "webp": "image",
    "heic": "image",
    "gzip": "archive",
    "7z": "archive",
    "rar": "archive",
    "zip": "archive",
    "exe": "program",
    "elf": "program",
    "ole": "office_format",
    "rtf": "office_format",
    "xlsx": "office_format",
    "pptx": "office_format",
    "odf": "office_format",
    "playlist": "playlist",
}


def refusal_code(found: Detected) -> tuple[str, dict]:
    """A stable code (and its values) for why a file of kind ``unknown`` is refused, so the web pages can
    say it in plain words in the reader's language (web.problems); ``found.reason`` stays the English detail.

    ``text_not_media`` carries ``expected`` (video, audio, pdf, docx: what the name promised)."""
    reason = found.reason or ""
    if reason.startswith("empty file"):
        return "empty_file", {}
    if reason.startswith("cannot be read"):
        return "unreadable", {}
    if reason.startswith("content is "):
        m = re.search(r"\(the file is named \.([^)\s]+)\)", reason)
        named = _EXT_TO_FORMAT.get(m.group(1).lower(), "") if m else ""
        expected = named if named in _DESCRIBED else (_kind_of(named) if named else "")
        return "text_not_media", {"expected": expected}
    return _REFUSAL_CODES.get(found.format or "", "unsupported_content"), {}


# -- binary containers -----------------------------------------------------------------------------


def _sniff_binary(f, head: bytes, size: int) -> Detected | None:
    """A Detected for every binary signature we know, None if the head looks like text."""
    if head.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return None  # a text byte-order mark (checked before MPEG sync: FF FE looks like one)
    if head[4:8] == b"ftyp":
        return _iso_bmff(f, head, size)
    if (
        head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip")
        and 8 <= int.from_bytes(head[:4], "big") <= size
        and not all(0x20 <= b < 0x7F for b in head[:4])
    ):
        return _iso_bmff(f, head, size, default="mov")  # old QuickTime without ftyp (a box size is not text)
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return _ebml(head)
    if head[:4] in (b"RIFF", b"RF64", b"BW64"):
        form = head[8:12]
        if form == b"AVI ":
            return Detected("video", "avi")
        if form == b"WAVE":
            return Detected("audio", "wav")
        if form == b"WEBP":
            return _unknown("webp", "an image (WebP), not a recording or document")
        return _unknown("riff", f"unsupported RIFF file ({form.decode('latin-1').strip()})")
    if head.startswith(b"FORM") and head[8:12] in (b"AIFF", b"AIFC"):
        return Detected("audio", "aiff")
    if head.startswith(b"fLaC"):
        return Detected("audio", "flac")
    if head.startswith(b"OggS"):
        return _ogg(head)
    if head.startswith(b"ID3") and head[3:4] in (b"\x02", b"\x03", b"\x04") and all(b < 0x80 for b in head[6:10]):
        return _after_id3(f, head)
    if head.startswith(b"0&\xb2u\x8ef\xcf\x11"):  # ASF (Windows Media)
        video = b"\xc0\xef\x19\xbc\x4d\x5b\xcf\x11\xa8\xfd\x00\x80\x5f\x5c\x44\x2b" in head
        return Detected("video", "wmv") if video else Detected("audio", "wma")
    if head.startswith(b"FLV\x01"):
        return Detected("video" if head[4] & 1 else "audio", "flv")
    if _is_transport_stream(head, 0, 188):
        return Detected("video", "ts")
    if _is_transport_stream(head, 4, 192):
        return Detected("video", "m2ts")
    if head.startswith((b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")):
        return Detected("video", "mpg")
    audio = _mpeg_audio(head, 0)
    if audio:
        return Detected("audio", audio)
    pdf_at = head.find(b"%PDF-", 0, 1024)  # readers accept junk before the header, not text that mentions it
    if pdf_at == 0 or (pdf_at > 0 and (not head[:pdf_at].strip() or b"\x00" in head[:pdf_at])):
        return Detected("document", "pdf")
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip(f)
    return _other_binary(head)


_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}
_IMAGE_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis"}


def _iso_bmff(f, head: bytes, size: int, default: str = "mp4") -> Detected:
    """MP4 / MOV / M4A / 3GP: the brand names the flavour, the track handlers say if there is a picture."""
    if head[4:8] == b"ftyp":
        box = head[8 : max(16, min(int.from_bytes(head[:4], "big"), 256))]
        major, compatible = box[:4], {box[i : i + 4] for i in range(8, len(box) - 3, 4)}
        if major in _IMAGE_BRANDS or (
            major not in (b"qt  ", b"isom", b"mp41", b"mp42")
            and compatible & _IMAGE_BRANDS
            and b"iso2" not in compatible
        ):
            return _unknown("heic", "an image (HEIC/AVIF photo), not a recording or document")
        if major in _AUDIO_BRANDS:
            return Detected("audio", "m4a")
        fmt = "mov" if major == b"qt  " else "3gp" if major.startswith(b"3g") else default
    else:
        fmt = default
    handlers = _track_handlers(f, size)
    if handlers and b"vide" not in handlers and b"soun" in handlers:
        return Detected("audio", fmt)  # e.g. a phone's voice memo saved as .mp4
    return Detected("video", fmt)


def _track_handlers(f, size: int) -> set[bytes]:
    """Handler types (vide, soun, ...) of the tracks in the top-level moov box, wherever it lies."""
    pos = 0
    for _ in range(10_000):
        f.seek(pos)
        header = f.read(16)
        if len(header) < 8:
            break
        box_size, box_type = int.from_bytes(header[:4], "big"), header[4:8]
        if box_size == 1 and len(header) == 16:
            box_size = int.from_bytes(header[8:16], "big")
        elif box_size == 0:
            box_size = size - pos
        if box_size < 8:
            break
        if box_type == b"moov":
            f.seek(pos)
            moov = f.read(min(box_size, 32 << 20))
            return {moov[m.end() + 8 : m.end() + 12] for m in re.finditer(b"hdlr", moov)}
        pos += box_size
    return set()


def _ebml(head: bytes) -> Detected:
    """Matroska / WebM: DocType names the flavour; track types (1 = video) say if there is a picture."""
    m = re.search(rb"\x42\x82([\x81-\x88])", head[:128])
    doctype = b""
    if m:
        n = m.group(1)[0] & 0x7F
        doctype = head[m.end() : m.end() + n].rstrip(b"\x00")
    fmt = "webm" if doctype == b"webm" else "mkv"
    if doctype not in (b"webm", b"matroska"):
        return _unknown("ebml", f"unsupported EBML file (DocType {doctype.decode('latin-1') or 'missing'})")
    types = _ebml_track_types(head)
    if types and 1 not in types and 2 in types:
        return Detected("audio", fmt)  # e.g. a browser's MediaRecorder audio
    return Detected("video", fmt)


def _ebml_track_types(data: bytes) -> set[int]:
    """TrackType values of the TrackEntry elements found in the head (empty if Tracks lies further on)."""
    containers = {0x18538067, 0x1654AE6B, 0xAE}  # Segment, Tracks, TrackEntry
    types: set[int] = set()

    def walk(pos: int, end: int, depth: int) -> None:
        while pos < end and depth < 4:
            ident, pos = _vint(data, pos, keep_marker=True)
            size, pos = _vint(data, pos, keep_marker=False)
            if ident is None or size is None:
                return
            stop = min(end, pos + size)
            if ident in containers:
                walk(pos, stop, depth + 1)
            elif ident == 0x83 and size == 1 and pos < len(data):
                types.add(data[pos])
            elif ident == 0x1F43B675:  # Cluster: media data, tracks are before it
                return
            pos = stop

    walk(0, len(data), 0)
    return types


def _vint(data: bytes, pos: int, keep_marker: bool) -> tuple[int | None, int]:
    if pos >= len(data) or data[pos] == 0:
        return None, pos
    first = data[pos]
    length = 8 - first.bit_length() + 1
    if pos + length > len(data):
        return None, pos
    value = first if keep_marker else first & (0xFF >> length)
    for b in data[pos + 1 : pos + length]:
        value = (value << 8) | b
    if not keep_marker and value == (1 << (7 * length)) - 1:
        value = len(data)  # "unknown size" (live streams): runs to the end
    return value, pos + length


def _ogg(head: bytes) -> Detected:
    if b"\x80theora" in head[:8192]:
        return Detected("video", "ogv")
    if b"OpusHead" in head[:512]:
        return Detected("audio", "opus")
    return Detected("audio", "ogg")


def _after_id3(f, head: bytes) -> Detected:
    """Skip an ID3v2 tag (it can hold a large cover picture) and look at what follows."""
    tag_size = 10 + ((head[6] & 0x7F) << 21 | (head[7] & 0x7F) << 14 | (head[8] & 0x7F) << 7 | (head[9] & 0x7F))
    if head[5] & 0x10:
        tag_size += 10  # footer
    f.seek(tag_size)
    after = f.read(8192)
    start = len(after) - len(after.lstrip(b"\x00"))  # some taggers pad beyond the declared size
    if after[start : start + 4] == b"fLaC":
        return Detected("audio", "flac")
    return Detected("audio", _mpeg_audio(after, start) or "mp3")


_MP3_BITRATES = {  # kbit/s by bitrate index, for MPEG-1 and MPEG-2/2.5 Layer III
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mpeg_audio(data: bytes, pos: int) -> str | None:
    """'mp3' or 'aac' if a valid MPEG audio / ADTS frame starts at pos and another follows it."""
    frame = _frame_length(data, pos)
    if frame is None:
        return None
    fmt, length = frame
    if pos + length + 4 <= len(data) and _frame_length(data, pos + length) is None:
        return None  # a lone sync-like pattern: not a stream of frames
    return fmt


def _frame_length(data: bytes, pos: int) -> tuple[str, int] | None:
    h = data[pos : pos + 7]
    if len(h) < 4 or h[0] != 0xFF or h[1] & 0xE0 != 0xE0:
        return None
    version, layer = (h[1] >> 3) & 3, (h[1] >> 1) & 3
    if layer == 0 and version in (0, 2) and len(h) == 7:  # ADTS (AAC): "version" bit 4 is always 1
        if (h[2] >> 2) & 0xF > 12:
            return None
        length = ((h[3] & 3) << 11) | (h[4] << 3) | (h[5] >> 5)
        return ("aac", length) if length > 7 else None
    if layer != 1 or version == 1:  # Layer III only; version 1 is reserved
        return None
    bitrate_index, rate_index, padding = h[2] >> 4, (h[2] >> 2) & 3, (h[2] >> 1) & 1
    if bitrate_index in (0, 15) or rate_index == 3:
        return None
    bitrate = _MP3_BITRATES[1 if version == 3 else 2][bitrate_index] * 1000
    rate = _SAMPLE_RATES[version][rate_index]
    return "mp3", (144 if version == 3 else 72) * bitrate // rate + padding


def _is_transport_stream(head: bytes, offset: int, packet: int) -> bool:
    """Sync byte 0x47 at the start of every packet (up to 20), and binary content (not G-code text)."""
    count = min(20, (len(head) - offset) // packet)
    return (
        count >= 3
        and all(head[offset + i * packet] == 0x47 for i in range(count))
        and (b"\x00" in head[: packet * 3] or b"\xff" in head[: packet * 3])
    )


def _zip(f) -> Detected:
    try:
        f.seek(0)
        names = set(zipfile.ZipFile(f).namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return _unknown("zip", "damaged zip archive")
    if "word/document.xml" in names:
        return Detected("document", "docx")
    if "xl/workbook.xml" in names:
        return _unknown("xlsx", "Excel workbooks (.xlsx) are not supported: save the sheet as PDF")
    if "ppt/presentation.xml" in names:
        return _unknown("pptx", "PowerPoint files (.pptx) are not supported: save the slides as PDF")
    if "mimetype" in names or "content.xml" in names:
        return _unknown("odf", "OpenDocument files are not supported: save it as .docx or PDF")
    return _unknown("zip", "a zip archive that is not a Word document (.docx): unpack it and ingest the files")


_OTHER_SIGNATURES = (
    (b"\x89PNG", "png", "an image (PNG), not a recording or document"),
    (b"\xff\xd8\xff", "jpeg", "an image (JPEG), not a recording or document"),
    (b"GIF8", "gif", "an image (GIF), not a recording or document"),
    (b"II*\x00", "tiff", "an image (TIFF), not a recording or document"),
    (b"MM\x00*", "tiff", "an image (TIFF), not a recording or document"),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "ole",
        "a legacy Office file (.doc/.xls/.ppt) or a password-protected Office document: save it as .docx or PDF",
    ),
    (b"{\\rtf", "rtf", "RTF documents are not supported: save it as .docx or PDF"),
    (b"\x1f\x8b", "gzip", "a compressed archive (gzip), not a recording or document"),
    (b"7z\xbc\xaf\x27\x1c", "7z", "a compressed archive (7z), not a recording or document"),
    (b"Rar!", "rar", "a compressed archive (RAR), not a recording or document"),
    (b"MZ", "exe", "a program (Windows executable), not a recording or document"),
    (b"\x7fELF", "elf", "a program (ELF executable), not a recording or document"),
)


def _other_binary(head: bytes) -> Detected | None:
    for magic, fmt, reason in _OTHER_SIGNATURES:
        if head.startswith(magic) and (magic != b"MZ" or b"\x00" in head[:64]):  # "MZ-5 notes" is text
            return _unknown(fmt, reason)
    sample = head[:8192]
    controls = sum(1 for b in sample if b < 0x20 and b not in (0x09, 0x0A, 0x0C, 0x0D, 0x1B))
    if b"\x00" in sample or controls > len(sample) * 0.01:
        return _unknown(None, "unrecognised binary content (not a supported video, audio or document format)")
    return None


def _unknown(fmt: str | None, reason: str) -> Detected:
    return Detected("unknown", fmt, reason)


# -- text ------------------------------------------------------------------------------------------

_SRT = re.compile(r"^\s*\d+[ \t]*\r?\n[ \t]*\d{1,2}:\d{2}:\d{2}[,.]\d{1,3}[ \t]*-->")
_HTML = re.compile(r"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*(?:<!doctype\s+html|<html[\s>])", re.I | re.S)
_MARKDOWN = re.compile(r"^(?:#{1,6}\s+\S|```|~~~|\s*[-*+]\s+\[[ xX]\]\s)|\]\([^)\s]+\)|^\|.*\|\s*$", re.M)


def _sniff_text(head: bytes, ext: str, truncated: bool) -> Detected:
    from ingest.textdecode import TextDecodeError, decode_text

    text = None
    # A head cut in the middle of a multi-byte character: retry without its last bytes.
    for cut in (0, 1, 2, 3) if truncated else (0,):
        try:
            text = decode_text(head[: len(head) - cut])[0]
            break
        except TextDecodeError:
            continue
    if text is None:
        return _unknown(None, "unrecognised content: neither a supported media format nor readable text")
    start = text.lstrip("\ufeff \t\r\n")
    first = start[:64].lower()
    if (
        first.startswith("#extm3u")
        or first.startswith("ffconcat")
        or first.startswith("[playlist]")
        or ext in _PLAYLIST_EXTS
    ):
        return _unknown("playlist", "playlist/concat files are not accepted")
    if start.startswith("WEBVTT"):
        return Detected("subtitle", "vtt")
    if _SRT.match(start) or (ext == "srt" and "-->" in text):
        return Detected("subtitle", "srt")
    if ext == "vtt" and "-->" in text:
        return Detected("subtitle", "vtt")
    if _HTML.match(start) or (ext in ("html", "htm", "xhtml") and "<" in start[:1]):
        return Detected("document", "html")
    named = _EXT_TO_FORMAT.get(ext)
    if named in ("md", "txt"):
        return Detected("document", named)
    if named is None and _MARKDOWN.search(text[:16384]):
        return Detected("document", "md")
    return Detected("document", "txt")
