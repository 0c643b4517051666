"""Where the tests find the repository and the shared test data, and a configuration for a fresh knowledge base."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def shared_data_dir() -> Path:
    """../shared/data beside the repository (KB_SHARED_DATA overrides)."""
    env = os.environ.get("KB_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def make_config(home: Path, **overrides):
    """The real default configuration in ``home``, with ``overrides`` (e.g. embed_model="hash")."""
    from kb.settings import load_config

    return load_config(home=home, **overrides)


def bench_module(name: str):
    """bench/<name>.py imported as a module, for the tests of the benchmark tools (bench/ is a folder of
    scripts, not a package, and stays off the import path)."""
    import importlib.util
    import sys

    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "bench" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # before running it: dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules[name]
