"""One cached, strict YAML loader for all content (issue 10): an edit is seen at once, errors are never
cached, and every problem names the file and line."""
from __future__ import annotations

import os

import pytest

from shifu.content.errors import ShifuError
from shifu.content.yamlio import Strict, cached_by_file, load_model_cached


class Tiny(Strict):
    name: str
    points: int


def _write(path, text, bump=0):
    path.write_text(text, encoding="utf-8")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump))


def test_an_edit_is_seen_without_a_restart_even_at_the_same_size(tmp_path):
    f = tmp_path / "tiny.yaml"
    _write(f, "name: a\npoints: 1\n")
    first = load_model_cached(f, Tiny)
    assert load_model_cached(f, Tiny) is first  # unchanged file: the same object
    _write(f, "name: b\npoints: 2\n", bump=1_000_000)  # same size, later modification time
    assert load_model_cached(f, Tiny) == Tiny(name="b", points=2)


def test_errors_are_not_cached_and_name_file_line_and_field(tmp_path):
    f = tmp_path / "tiny.yaml"
    _write(f, "name: a\npoints: many\nextra: 1\n")
    with pytest.raises(ShifuError) as err:
        load_model_cached(f, Tiny)
    problems = {(p.field, p.line) for p in err.value.problems}
    assert ("points", 2) in problems and ("extra", 3) in problems
    _write(f, "name: a\npoints: 3\n", bump=1_000_000)
    assert load_model_cached(f, Tiny).points == 3


def test_one_entry_per_file_and_parser_and_a_link_is_the_file(tmp_path):
    f = tmp_path / "tiny.yaml"
    _write(f, "name: a\npoints: 1\n")
    link = tmp_path / "link.yaml"
    link.symlink_to(f)
    calls = []

    def count(p):
        calls.append(p)
        return p.read_text(encoding="utf-8")

    assert cached_by_file(f, count) == cached_by_file(link, count)
    assert len(calls) == 1
    assert load_model_cached(link, Tiny).name == "a"


def test_a_missing_file_is_reported_by_the_parser(tmp_path):
    with pytest.raises(ShifuError) as err:
        load_model_cached(tmp_path / "gone.yaml", Tiny)
    assert "missing" in str(err.value)


def test_the_venv_bin_goes_first_on_path_once():
    from shifu.content.paths import venv_bin, venv_env

    env = venv_env({"PATH": "/usr/bin:/bin"}, EXTRA="1")
    assert env["PATH"].split(":")[0] == venv_bin() and env["EXTRA"] == "1"
    assert venv_env(env)["PATH"] == env["PATH"]  # not added twice
