"""requirements.txt is the lock of the whole environment and must agree with pyproject.toml.

`make install` installs exactly requirements.txt (with hashes), so a dependency declared in
pyproject.toml but missing from the lock, or locked at a version the declaration refuses,
would mean the project runs on something nobody chose.  `make lock` regenerates it.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def locked() -> dict[str, tuple[Version, list[str]]]:
    """{canonical name: (version, hashes)} from requirements.txt."""
    pins: dict[str, tuple[Version, list[str]]] = {}
    current = None
    for raw in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", line)
        if m:
            current = canonicalize_name(m.group(1))
            pins[current] = (Version(m.group(2)), [])
        elif line.startswith("--hash=") and current:
            pins[current][1].append(line.split()[0].removeprefix("--hash="))
        else:
            raise AssertionError(f"requirements.txt: a line that is not an exact pin or a hash: {raw!r}")
    return pins


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in project.get("optional-dependencies", {}).values():
        reqs += [Requirement(r) for r in extra]
    return reqs


def test_every_declared_dependency_is_locked_at_a_version_it_accepts():
    pins = locked()
    problems = []
    for req in declared():
        if req.marker and not req.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(req.name)
        if name not in pins:
            problems.append(f"{req} is not in requirements.txt (run make lock)")
            continue
        version = pins[name][0]
        # A local build (torch 2.13.0+cpu) satisfies its public version's pin.
        if not req.specifier.contains(Version(version.public), prereleases=True):
            problems.append(f"{req}: requirements.txt has {version} (run make lock)")
    assert problems == []


def test_every_lock_entry_is_exact_and_hashed():
    pins = locked()
    assert len(pins) > 50, "the lock holds the whole environment, not only the direct dependencies"
    unhashed = [name for name, (_, hashes) in pins.items() if not hashes]
    assert unhashed == []


def test_torch_is_the_cpu_build():
    """An unpinned or public torch pulls gigabytes of CUDA packages; the lock names the CPU build."""
    pins = locked()
    assert str(pins["torch"][0]).endswith("+cpu")
    assert not [name for name in pins if name.startswith("nvidia-")]


def test_make_install_installs_the_lock():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "--require-hashes -r requirements.txt" in makefile
    assert "--no-deps" in makefile
