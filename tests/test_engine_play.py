"""`shifu play`: non-interactive runs, transcripts, and one-line errors with exit code 2."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from engine_fake_llm import FakeLLM
from shifu.roleplay.transcript import read_transcript

SID = "late-parcel-wrong-station"
DATA = Path(__file__).parent / "data" / "conversations" / f"{SID}.yaml"


def shifu(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """The real entry point in a fresh process."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SHIFU_LLM") and k != "OPENAI_API_KEY"}
    full_env.update({"XDG_CONFIG_HOME": str(cwd / "xdg"), "COLUMNS": "200"})
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-c", "from shifu.cli import main; main()", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    """The same entry point in this process (starting a process per case is slow on a busy machine)."""
    from shifu.cli import main

    for name in [k for k in os.environ if k.startswith("SHIFU_LLM") or k == "OPENAI_API_KEY"]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)

    def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        for k, v in (env or {}).items():
            monkeypatch.setenv(k, v)
        monkeypatch.setattr(sys, "argv", ["shifu", *args])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, captured.out, captured.err)

    return run


def replies_file(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.txt"
    path.write_text("# trainee replies\n" + "\n".join(yaml.safe_load(DATA.read_text(encoding="utf-8"))[kind]) + "\n",
                    encoding="utf-8")
    return path


def test_good_replies_resolve_and_write_the_transcript(tmp_path):
    out = tmp_path / "t.jsonl"
    r = shifu("play", SID, "--replies", str(replies_file(tmp_path, "good")), "--transcript", str(out), "--seed", "3", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "outcome: resolved" in r.stdout and "王女士:" in r.stdout and "心情" in r.stdout
    assert "✓ 已问出 wrong_station" in r.stdout
    t = read_transcript(out)
    assert t.end.outcome == "resolved" and t.session.seed == 3 and len(t.replies) == 3


def test_bad_replies_escalate_with_exit_code_zero(tmp_path, cli):
    r = cli("play", SID, "--replies", str(replies_file(tmp_path, "bad")))
    assert r.returncode == 0, r.stderr
    assert "outcome: escalated" in r.stdout and "platform_complaint" in r.stdout
    assert "replies not used" in r.stdout
    assert not (tmp_path / "shifu-transcripts").exists(), "a replies file run writes a transcript only when asked"


def test_same_seed_same_conversation(tmp_path, cli):
    runs = [cli("play", SID, "--replies", str(replies_file(tmp_path, "good")), "--seed", "8").stdout
            for _ in range(2)]
    assert runs[0] == runs[1]


def test_an_unfinished_transcript_is_resumed(tmp_path, cli):
    good = yaml.safe_load(DATA.read_text(encoding="utf-8"))["good"]
    first, rest = tmp_path / "first.txt", tmp_path / "rest.txt"
    first.write_text(good[0] + "\n", encoding="utf-8")
    rest.write_text("\n".join(good[1:]) + "\n", encoding="utf-8")
    out = tmp_path / "t.jsonl"
    assert cli("play", SID, "--replies", str(first), "--transcript", str(out)).returncode == 0
    # the first run ended the session as abandoned; a killed run would leave it open:
    lines = out.read_text(encoding="utf-8").splitlines()
    out.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    r = cli("play", SID, "--replies", str(rest), "--transcript", str(out))
    assert r.returncode == 0 and "resumed after 1 turns" in r.stdout and "outcome: resolved" in r.stdout
    assert read_transcript(out).replies == good


def test_errors_are_one_clear_line_with_exit_code_2(tmp_path, cli):
    replies = replies_file(tmp_path, "good")
    cases = [
        (("play", "no-such-buyer", "--replies", str(replies)), "unknown scenario 'no-such-buyer'"),
        (("play", SID, "--replies", str(tmp_path / "missing.txt")), "missing.txt: (file): does not exist"),
        (("play", SID, "--replies", str(tmp_path)), "is a folder"),
        (("play", SID, "--backend", "gpt", "--replies", str(replies)), "unknown backend 'gpt'"),
        (("play", SID, "--backend", "openai", "--replies", str(replies)), "SHIFU_LLM_MODEL"),
    ]
    (tmp_path / "empty.txt").write_text("\n# nothing\n", encoding="utf-8")
    cases.append((("play", SID, "--replies", str(tmp_path / "empty.txt")), "holds no replies"))
    for args, expected in cases:
        r = cli(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert r.stderr.startswith("error: ") and expected in r.stderr, r.stderr
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_openai_backend_from_the_environment_and_the_key_stays_secret(tmp_path, cli):
    key = "sk-play-TOPSECRET-0123456789"
    with FakeLLM(default=("ok", "你们到底什么时候能给我个准话?")) as server:
        out = tmp_path / "t.jsonl"
        env = {"SHIFU_LLM_BASE_URL": server.base_url, "SHIFU_LLM_MODEL": "fake", "SHIFU_LLM_API_KEY": key,
               "SHIFU_LLM_TIMEOUT": "2"}
        r = cli("play", SID, "--backend", "openai", "--replies", str(replies_file(tmp_path, "good")),
                "--transcript", str(out), env=env)
    assert r.returncode == 0, r.stderr
    assert "你们到底什么时候能给我个准话" in r.stdout and "outcome: resolved" in r.stdout
    t = read_transcript(out)
    assert t.session.backend == "openai" and {b.backend for b in t.buyer_turns()} == {"openai"}
    assert key not in r.stdout + r.stderr + out.read_text(encoding="utf-8")
