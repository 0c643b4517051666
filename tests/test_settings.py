"""Settings are typed: each declares its type, Config.get returns that type, and a bad value is refused
when the settings are loaded, with a message naming the setting and its environment variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kb.settings import SETTINGS, Config, SettingError, load_config


def test_every_default_is_a_value_of_its_type(tmp_path):
    config = load_config(tmp_path)
    kinds = {"int": int, "float": float, "bool": bool, "path": Path, "choice": str, "str": str}
    for s in SETTINGS:
        value = config.get(s.name)
        if s.optional and value is None:
            continue
        assert isinstance(value, kinds[s.type]), (s.name, value)


def test_values_come_back_typed(tmp_path):
    config = load_config(
        tmp_path,
        search_threads="3",
        chunk_min_seconds="12.5",
        serve_worker="off",
        reading_match="ON",
        cookie_secure="auto",
        threads="",
        model_dir="~/models",
        asr="Faster-Whisper",
    )
    assert config.get("search_threads") == 3
    assert config.get("chunk_min_seconds") == 12.5
    assert config.get("serve_worker") is False and config.get("reading_match") is True
    assert config.get("cookie_secure") is None and load_config(tmp_path, cookie_secure="1").get("cookie_secure") is True
    assert config.get("threads") is None and config.threads() == (os.cpu_count() or 1)
    assert config.get("model_dir") == Path("~/models").expanduser()
    assert config.get("asr") == "faster-whisper"
    assert config.values["search_threads"] == "3"  # the text as given: what `kb settings` shows, backups keep
    assert config.home == Path(tmp_path).resolve()


@pytest.mark.parametrize(
    "name, raw, says",
    [
        ("search_threads", "two", "must be a whole number"),
        ("chunk_max_seconds", "1 minute", "must be a number"),
        ("serve_worker", "maybe", "must be on or off (1 / 0)"),
        ("language", "fr", "must be one of ja, en, auto"),
        ("home", " ", "must be a path"),
    ],
)
def test_a_bad_value_is_refused_at_load_naming_the_setting(tmp_path, name, raw, says):
    with pytest.raises(SettingError) as e:
        load_config(**({"home": tmp_path} | {name: raw}))
    env = "KB_" + name.upper()
    assert f"setting {name} ({env}) {says}, not {raw!r}" == str(e.value)
    with pytest.raises(SettingError):
        Config({"home": str(tmp_path)} | {name: raw})  # a Config made by hand is checked too


def test_the_kb_command_says_which_setting_is_wrong_in_one_line(tmp_path):
    kb = Path(sys.executable).parent / "kb"
    env = dict(os.environ, KB_HOME=str(tmp_path / "kb"), KB_SEARCH_THREADS="two")
    done = subprocess.run([str(kb), "settings"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip() == "kb: setting search_threads (KB_SEARCH_THREADS) must be a whole number, not 'two'"
