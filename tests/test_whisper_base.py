"""The default speech model's folder: assembled once from its two packages, checked, renamed into place.

Real files: the installed packages' 145 MB of parts are joined into a temporary folder (about a
second).  A damaged part is simulated by pointing the assembler at a copy with one byte changed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from media import whisper_base
from media.errors import RecognizerError


@pytest.mark.slow
def test_assembles_once_with_checks(tmp_path):
    folder = whisper_base.ensure_model(tmp_path)
    assert folder == tmp_path / whisper_base.FOLDER
    assert (folder / "model.bin").stat().st_size == whisper_base.MODEL_BIN_SIZE
    for name in ("config.json", "tokenizer.json", "vocabulary.json", whisper_base.MARKER):
        assert (folder / name).is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".assembling-")]  # no leftovers
    # A second call finds it (no re-assembly: the file is the same inode, untouched).
    before = os.stat(folder / "model.bin")
    assert whisper_base.ensure_model(tmp_path) == folder
    after = os.stat(folder / "model.bin")
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)
    # faster-whisper loads it as a multilingual model.
    from faster_whisper import WhisperModel

    assert WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=1).model.is_multilingual


@pytest.mark.slow
def test_truncated_folder_is_rebuilt(tmp_path):
    folder = whisper_base.ensure_model(tmp_path)
    with open(folder / "model.bin", "r+b") as f:
        f.truncate(1000)  # e.g. a disk that filled up while someone copied the folder
    assert whisper_base.installed_folder(tmp_path) is None
    assert whisper_base.ensure_model(tmp_path) == folder
    assert (folder / "model.bin").stat().st_size == whisper_base.MODEL_BIN_SIZE


@pytest.mark.slow
def test_damaged_part_is_refused_and_nothing_is_left(tmp_path, monkeypatch):
    parts, data = whisper_base._parts()
    copy = tmp_path / "parts"
    copy.mkdir()
    bad = [Path(shutil.copy(p, copy / p.name)) for p in parts]
    with open(bad[1], "r+b") as f:
        f.seek(12345)
        byte = f.read(1)
        f.seek(12345)
        f.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setattr(whisper_base, "_parts", lambda: (bad, data))
    root = tmp_path / "models"
    with pytest.raises(RecognizerError, match="do not add up"):
        whisper_base.ensure_model(root)
    assert list(root.iterdir()) == []  # neither a half folder nor a temporary one


def test_model_dir_setting_moves_it(tmp_path, monkeypatch):
    monkeypatch.setenv("KB_MODEL_DIR", str(tmp_path / "elsewhere"))
    assert whisper_base.model_root() == tmp_path / "elsewhere"
    assert whisper_base.model_root(str(tmp_path / "given")) == tmp_path / "given"
    monkeypatch.delenv("KB_MODEL_DIR")
    assert whisper_base.model_root("") != tmp_path / "elsewhere"


def test_command_line(tmp_path, capsys):
    assert whisper_base.main([str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / whisper_base.FOLDER)
