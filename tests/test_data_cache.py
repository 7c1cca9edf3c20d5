"""The decode-once cache: hits, invalidation by size/mtime, atomic writes and recovery from bad entries."""

from __future__ import annotations

import os

import numpy as np
import pytest

import emoscope.data.fer2013 as fer2013_module
from emoscope.data import load_fer2013
from emoscope.data.cache import cache_path, cached_arrays, default_cache_dir


class CountingBuild:
    """A build function that records how often the cache had to call it."""

    def __init__(self, value: int = 1):
        self.calls = 0
        self.value = value

    def __call__(self) -> dict[str, np.ndarray]:
        self.calls += 1
        return {"x": np.full((3, 2), self.value, dtype=np.uint8), "y": np.arange(3)}


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "source.csv"
    path.write_text("version 1\n")
    return path


def test_second_call_is_served_from_the_cache(source, cache_dir):
    build = CountingBuild()
    first = cached_arrays([source], "test", build, cache_dir)
    second = cached_arrays([source], "test", build, cache_dir)
    assert build.calls == 1
    assert first.keys() == second.keys() == {"x", "y"}
    np.testing.assert_array_equal(first["x"], second["x"])
    assert second["x"].dtype == np.uint8


def test_changed_source_misses_the_old_entry(source, cache_dir):
    build = CountingBuild()
    cached_arrays([source], "test", build, cache_dir)
    source.write_text("version 2, longer\n")
    cached_arrays([source], "test", build, cache_dir)
    assert build.calls == 2
    # Same size, new modification time only.
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    cached_arrays([source], "test", build, cache_dir)
    assert build.calls == 3


def test_name_versions_the_entry(source, cache_dir):
    build = CountingBuild()
    cached_arrays([source], "test-v1", build, cache_dir)
    cached_arrays([source], "test-v2", build, cache_dir)
    assert build.calls == 2


def test_unreadable_entry_is_rebuilt(source, cache_dir):
    build = CountingBuild()
    cached_arrays([source], "test", build, cache_dir)
    entry = cache_path([source], "test", cache_dir)
    entry.write_bytes(b"PK\x03\x04 truncated zip")
    arrays = cached_arrays([source], "test", build, cache_dir)
    assert build.calls == 2 and arrays["x"].shape == (3, 2)
    cached_arrays([source], "test", build, cache_dir)
    assert build.calls == 2  # the rebuilt entry is good again


def test_write_leaves_only_the_finished_entry(source, cache_dir):
    cached_arrays([source], "test", CountingBuild(), cache_dir)
    assert [path.name for path in cache_dir.iterdir()] == [cache_path([source], "test", cache_dir).name]


def test_failed_build_writes_nothing(source, cache_dir):
    def failing_build():
        raise ValueError("boom")

    with pytest.raises(ValueError):
        cached_arrays([source], "test", failing_build, cache_dir)
    assert not cache_dir.exists() or not any(cache_dir.iterdir())


def test_unwritable_cache_still_returns_the_arrays(source, tmp_path):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")
    build = CountingBuild()
    assert cached_arrays([source], "test", build, blocked / "cache")["x"].shape == (3, 2)
    assert build.calls == 1


def test_default_cache_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("EMOSCOPE_CACHE", str(tmp_path / "elsewhere"))
    assert default_cache_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("EMOSCOPE_CACHE")
    assert default_cache_dir().parts[-2:] == (".cache", "emoscope")


def test_fer2013_is_decoded_once_per_source_version(tiny_fer_csv, cache_dir, monkeypatch, fer2013_csv_writer):
    decodes = []
    real_decode = fer2013_module._decode_csv
    monkeypatch.setattr(fer2013_module, "_decode_csv", lambda path: decodes.append(path) or real_decode(path))
    load_fer2013(tiny_fer_csv.fer2013, cache_dir=cache_dir)
    cached = load_fer2013(tiny_fer_csv.fer2013, split="test", cache_dir=cache_dir)
    assert len(decodes) == 1
    np.testing.assert_array_equal(cached.images, tiny_fer_csv.images[56:])
    changed = tiny_fer_csv.images.copy()
    changed[0] = 0
    fer2013_csv_writer(tiny_fer_csv.fer2013, tiny_fer_csv.labels, tiny_fer_csv.usage, changed)
    assert (load_fer2013(tiny_fer_csv.fer2013, cache_dir=cache_dir).images[0] == 0).all()
    assert len(decodes) == 2
