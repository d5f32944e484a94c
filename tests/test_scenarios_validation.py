"""Scenario validation: every kind of broken file gets an error naming the file, the field, the line
and a fix; the real library validates, lists and covers what the curriculum needs."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from shifu.content import paths
from shifu.content.errors import Problem
from shifu.roleplay.scenario import load_all, scenario_files, validate_files
from shifu.reading.vocab import BuyerState, Family

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
EXEMPLAR = ROOT / "scenarios" / "late-parcel-wrong-station.yaml"


def start_shifu(*args: str, cwd: Path) -> subprocess.Popen[str]:
    """The installed `shifu` entry point, as a trainer would run it (venv bin first on PATH)."""
    env = {k: v for k, v in os.environ.items() if k != "SHIFU_HOME"}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.Popen([str(BIN / "shifu"), *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    out, err = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


# -- broken fixtures: each one a valid scenario with exactly one thing wrong -------------------------

def base() -> dict[str, Any]:
    return yaml.safe_load(EXEMPLAR.read_text(encoding="utf-8"))


def dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)


def line_of(text: str, pattern: str, nth: int = 1) -> int:
    """1-based line of the nth line matching `pattern` (a regex)."""
    hits = [i for i, line in enumerate(text.splitlines(), 1) if re.search(pattern, line)]
    assert len(hits) >= nth, f"fixture has no line matching {pattern!r}"
    return hits[nth - 1]


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) >= 1, f"fixture text lacks {old!r}"
    return text.replace(old, new, 1)


def _set(key: str, value: Any) -> Callable[[dict], None]:
    def edit(d: dict) -> None:
        d[key] = value
    return edit


def _rename_top(old: str, new: str) -> Callable[[dict], None]:
    def edit(d: dict) -> None:
        items = list(d.items())
        d.clear()
        d.update({(new if k == old else k): v for k, v in items})
    return edit


def _del(key: str) -> Callable[[dict], None]:
    def edit(d: dict) -> None:
        del d[key]
    return edit


def _no_way_to_uncover(d: dict) -> None:
    d["hidden_facts"][0]["uncovered_by"] = "mind_reading"
    d["hidden_facts"][0]["cues"] = []


def _typo_nested(d: dict) -> None:
    fact = d["hidden_facts"][1]
    fact["uncoverd_by"] = fact.pop("uncovered_by")


def _two_angry_lines(d: dict) -> None:
    d["lines"]["angry"] = d["lines"]["angry"][:2]


def _line(state: str, i: int, line: dict) -> Callable[[dict], None]:
    def edit(d: dict) -> None:
        d["lines"][state][i] = line
    return edit


def _every_calming_line_conditional(d: dict) -> None:
    d["lines"]["calming"] = [{"text": t if isinstance(t, str) else t["text"], "when": {"said": ["改派"]}}
                             for t in d["lines"]["calming"]]


# name -> (edit on the data, edit on the dumped text, expected: field, line pattern, message part, fix part)
CASES: dict[str, tuple[Callable | None, Callable | None, str, str | None, str, str]] = {
    "yaml-syntax": (None, lambda t: replace_once(t, "channel: chat", "channel: chat: phone"),
                    "(YAML syntax)", r"^channel: chat: phone", "mapping values are not allowed", "fix the indentation"),
    "yaml-tab": (None, lambda t: replace_once(t, "\n  name: ", "\n\tname: "),
                 "(YAML syntax)", r"^\tname: ", "'\\t'", "spaces, not tabs"),
    "missing-field": (_del("goal"), None, "goal", None, "required field is missing", "add the field"),
    "wrong-type-word": (_set("difficulty", "hard"), None, "difficulty", r"^difficulty: ", "valid integer", "whole number"),
    "wrong-type-bool": (_set("difficulty", True), None, "difficulty", r"^difficulty: ", "valid integer", "whole number"),
    "wrong-type-list": (_set("competencies", "communication"), None, "competencies", r"^competencies: ", "valid list",
                        "write a list"),
    "wrong-type-number-as-text": (None, lambda t: re.sub(r"order_id: .*", "order_id: 310288764412", t, count=1),
                                  "context.order_id", r"^  order_id: ", "valid string", "in quotes"),
    "unknown-key": (_rename_top("persona", "persnoa"), None, "persnoa", r"^persnoa:", "unknown field",
                    "did you mean `persona`"),
    "unknown-key-nested": (_typo_nested, None, "hidden_facts[1].uncoverd_by", r"^  uncoverd_by:", "unknown field",
                           "did you mean `uncovered_by`"),
    "difficulty-0": (_set("difficulty", 0), None, "difficulty", r"^difficulty: 0", "greater than or equal to 1",
                     "at least 1"),
    "difficulty-6": (_set("difficulty", 6), None, "difficulty", r"^difficulty: 6", "less than or equal to 5",
                     "at most 5"),
    "rubric-unknown": (_set("rubric", "aftersale"), None, "rubric", r"^rubric: aftersale", "does not exist",
                       "use one of: after_sales"),
    "fact-unreachable": (_no_way_to_uncover, None, "hidden_facts[0].uncovered_by", r"uncovered_by: mind_reading",
                         "no way to be uncovered", "question_kinds.yaml"),
    "too-few-lines": (_two_angry_lines, None, "lines.angry", r"^  angry:", "at least 3 items", "at least 3"),
    "id-not-file-name": (_set("id", "some-other-id"), None, "id", r"^id: some-other-id",
                         "does not match the file name", "rename the file to some-other-id.yaml or change the id"),
    "line-condition-typo": (_line("probing", 0, {"text": "那你们具体怎么处理?", "when": {"sayd": ["改派"]}}), None,
                            "lines.probing[0].when.sayd", r"^\s+sayd:", "unknown field", "did you mean `said`"),
    "line-condition-unknown-fact": (_line("calming", 0, {"text": "好吧,那你帮我查查。", "unless": {"revealed": ["wrong_statoin"]}}),
                                    None, "lines.calming[0].unless.revealed[0]", r"- wrong_statoin",
                                    "is not an id in hidden_facts", "use one of: wrong_station, race_saturday"),
    "line-condition-unknown-offer": (_line("probing", 0, {"text": "改派要多久?", "when": {"offered": ["reroute"]}}),
                                     None, "lines.probing[0].when.offered[0]", r"- reroute$",
                                     "is not an id in accepts / never_offer", "use one of: reroute_today"),
    "line-condition-empty": (_line("probing", 0, {"text": "那你们具体怎么处理?", "when": {}}), None,
                             "lines.probing[0].when", r"when: \{\}", "a condition needs at least one of", "correct the value"),
    "line-condition-bad-signal": (_line("angry", 0, {"text": "别扯了。", "when": {"signals": ["blaming"]}}), None,
                                  "lines.angry[0].when.signals[0]", r"- blaming", "Input should be",
                                  "use one of the allowed values"),
    "line-condition-question-not-bool": (_line("angry", 0, {"text": "别扯了。", "when": {"question": "maybe"}}), None,
                                         "lines.angry[0].when.question", r"question: maybe", "valid boolean",
                                         "correct the value"),
    "line-without-text": (_line("angry", 0, {"txt": "别扯了。"}), None, "lines.angry[0].txt", r"txt: ",
                          "unknown field", "did you mean `text`"),
    "state-all-conditional": (_every_calming_line_conditional, None, "lines.calming", r"^  calming:",
                              "every line has a condition", "keep at least one line without `when`/`unless`"),
    "repeated-key": (None, lambda t: replace_once(t, "\ndifficulty: 2\n", "\ndifficulty: 2\ndifficulty: 3\n"),
                     "difficulty", r"^difficulty: 3", "appears twice", "keep one of them"),
    "repeated-key-nested": (None, lambda t: replace_once(t, "\n  patience: 4\n", "\n  patience: 4\n  patience: 6\n"),
                            "persona.patience", r"^  patience: 6", "appears twice", "keep one of them"),
}


def write_case(directory: Path, name: str) -> tuple[Path, str]:
    data_edit, text_edit, *_ = CASES[name]
    data = base()
    data["id"] = name
    if data_edit:
        data_edit(data)
    text = dump(data)
    if text_edit:
        text = text_edit(text)
    path = directory / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path, text


def expected_line(name: str, text: str) -> int:
    pattern = CASES[name][3]
    return 1 if pattern is None else line_of(text, pattern)


def check(problem: Problem, name: str, text: str, file_shown: str) -> None:
    _, _, field, _, message, fix = CASES[name]
    assert problem.file == file_shown
    assert problem.field == field
    assert message in problem.message
    assert fix in problem.fix
    assert problem.line == expected_line(name, text)


# -- the Python API, one broken file at a time ------------------------------------------------------

@pytest.mark.parametrize("name", sorted(CASES))
def test_each_broken_file_names_file_field_line_and_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.chdir(tmp_path)
    path, text = write_case(tmp_path, name)
    good, problems = validate_files([path])
    assert good == []
    field = CASES[name][2]
    mine = [p for p in problems if p.field == field]
    assert mine, f"no problem reported for {field}; got {[str(p) for p in problems]}"
    check(mine[0], name, text, f"{name}.yaml")
    assert all(p.fix for p in problems), "every problem must say how to fix it"


def test_unknown_key_also_reports_the_missing_field_it_was_meant_to_be(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path, _ = write_case(tmp_path, "unknown-key")
    _, problems = validate_files([path])
    assert {(p.field, p.message) for p in problems} >= {("persnoa", "unknown field"), ("persona", "required field is missing")}


def test_unknown_question_kind_with_cues_is_still_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    data = base()
    data["id"] = "kind-typo"
    data["hidden_facts"][1]["uncovered_by"] = "timeline_typo"
    data["hidden_facts"][1]["cues"] = ["周六"]
    path = tmp_path / "kind-typo.yaml"
    path.write_text(dump(data), encoding="utf-8")
    _, problems = validate_files([path])
    assert [(p.field, "is unknown" in p.message, "timeline" in p.fix) for p in problems] == [
        ("hidden_facts[1].uncovered_by", True, True)]


def test_duplicate_ids_across_two_files_name_both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    data = base()
    data["id"] = "twin"
    for d in ("a", "b"):
        (tmp_path / d / "twin.yaml").write_text(dump(data), encoding="utf-8")
    good, problems = validate_files([tmp_path / "a" / "twin.yaml", tmp_path / "b" / "twin.yaml"])
    assert [g.id for g in good] == ["twin"]
    assert len(problems) == 1
    p = problems[0]
    assert (p.file, p.field, p.line) == (str(Path("b/twin.yaml")), "id", 1)
    assert "duplicate id 'twin'" in p.message and str(Path("a/twin.yaml")) in p.message
    assert p.fix == "give each scenario its own id"


def test_all_problems_of_all_files_are_collected_not_just_the_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    files = [write_case(tmp_path, n)[0] for n in ("difficulty-0", "rubric-unknown", "too-few-lines")]
    _, problems = validate_files(files)
    assert {p.file for p in problems} == {f.name for f in files}


# -- the real `shifu` command (its start-up is slow, so the three runs start together, once) ---------

BROKEN_FOR_CLI = ("yaml-syntax", "missing-field", "wrong-type-word", "unknown-key", "difficulty-0", "difficulty-6",
                  "id-not-file-name", "repeated-key")


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("broken")
    texts = {name: write_case(d, name)[1] for name in BROKEN_FOR_CLI}
    for sub in ("left", "right"):
        (d / sub).mkdir()
        data = base()
        data["id"] = "twin"
        (d / sub / "twin.yaml").write_text(dump(data), encoding="utf-8")
    elsewhere = tmp_path_factory.mktemp("cwd")
    procs = {
        "broken": start_shifu("scenarios", "validate", *[f"{n}.yaml" for n in texts], "left/twin.yaml", "right/twin.yaml",
                              cwd=d),
        "validate": start_shifu("scenarios", "validate", cwd=elsewhere),
        "list": start_shifu("scenarios", "list", cwd=elsewhere),
    }
    return {"texts": texts, **{k: finish(p) for k, p in procs.items()}}


@pytest.mark.parametrize("name", BROKEN_FOR_CLI)
def test_cli_prints_file_line_field_and_fix(cli, name: str) -> None:
    proc, texts = cli["broken"], cli["texts"]
    _, _, field, _, message, fix = CASES[name]
    line = expected_line(name, texts[name])
    prefix = f"{name}.yaml:{line}: {field}: "
    hits = [l for l in proc.stderr.splitlines() if l.startswith(prefix)]
    assert hits, f"no stderr line starts with {prefix!r}:\n{proc.stderr}"
    assert message in hits[0] and "— fix: " in hits[0] and fix in hits[0]


def test_cli_reports_duplicate_ids_and_fails(cli) -> None:
    proc, texts = cli["broken"], cli["texts"]
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    dup = str(Path("right/twin.yaml")) + ":1: id: duplicate id 'twin', also used by " + str(Path("left/twin.yaml"))
    assert any(l.startswith(dup) for l in proc.stderr.splitlines()), proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(f"{len(texts) + 1} of {len(texts) + 2} scenario files have problems")
    assert proc.stdout == ""


# -- the real library -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def library() -> list:
    return load_all()


def test_cli_validates_the_whole_library(cli) -> None:
    proc = cli["validate"]
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"{len(scenario_files())} scenarios valid"


def test_cli_lists_every_scenario(cli) -> None:
    proc = cli["list"]
    assert proc.returncode == 0, proc.stderr
    ids = [f.stem for f in scenario_files()]
    for sid in ids:
        assert re.search(rf"(^|\W){re.escape(sid)}(\W|$)", proc.stdout, re.M), f"{sid} missing from the list"
    assert proc.stdout.strip().splitlines()[-1] == f"{len(ids)} scenarios"


def test_library_size_and_difficulty_spread(library) -> None:
    assert len(library) >= 14
    assert sum(1 for s in library if s.difficulty >= 4) >= 3
    assert {s.difficulty for s in library} >= {2, 3, 4, 5}


def test_library_covers_every_family(library) -> None:
    # The families are the difficult buyers domain.md draws from the seeds (logistics, refunds, claim
    # hunters and asset loss, pre-sales and bot hand-off, repeat buyers, store calls, Double 11,
    # live streams) plus compliance.
    covered = {s.family for s in library}
    assert covered == set(Family), f"no scenario for {sorted(f.value for f in set(Family) - covered)}"


def test_library_covers_every_channel_and_rubric(library) -> None:
    from shifu.reading.vocab import Channel

    assert {s.channel for s in library} == set(Channel)
    assert {s.rubric for s in library} >= {"after_sales", "pre_sales", "claims", "store_phone"}


@pytest.mark.parametrize("state", list(BuyerState))
def test_every_state_has_at_least_three_lines(library, state: BuyerState) -> None:
    short = [s.id for s in library if len(s.lines.for_state(state)) < 3]
    assert not short, f"{state.value}: fewer than 3 lines in {short}"


def test_every_scenario_has_varied_openings_and_unique_lines(library) -> None:
    for s in library:
        assert len(s.lines.opening) >= 2, s.id
        every = [l for st in BuyerState for l in s.lines.for_state(st)] + list(s.lines.opening)
        assert len(every) == len(set(every)), f"{s.id}: a buyer line is repeated"


def test_every_scenario_is_grounded_in_a_seed(library) -> None:
    for s in library:
        assert s.sources, s.id
        for src in s.sources:
            assert src.seed in {"000", "001", "002", "003", "004"}, s.id
            assert re.search(r"[\u4e00-\u9fff]", src.fact), f"{s.id}: the source fact should quote the seed"


def test_cues_are_specific_enough(library) -> None:
    """A one-character cue would fire on ordinary replies."""
    for s in library:
        groups = [("accepts", r.id, r.cues) for r in s.accepts] + [("never_offer", r.id, r.cues) for r in s.never_offer]
        groups += [("hidden_facts", f.id, f.cues) for f in s.hidden_facts]
        for where, rid, cues in groups:
            short = [c for c in cues if len(c) < 2]
            assert not short, f"{s.id}: {where} {rid} has too short cues {short}"


def test_accepted_and_forbidden_resolutions_do_not_share_cues(library) -> None:
    for s in library:
        ok = {c for r in s.accepts for c in r.cues}
        bad = {c for r in s.never_offer for c in r.cues}
        assert not ok & bad, f"{s.id}: cues both accepted and forbidden: {sorted(ok & bad)}"


def test_validation_reads_the_library_from_shifu_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A mentor's own copy of the content (SHIFU_HOME) is what gets validated."""
    home = tmp_path / "home"
    (home / "scenarios").mkdir(parents=True)
    (home / "grader").symlink_to(paths.grader_dir())
    data = base()
    data["id"] = "only-one"
    (home / "scenarios" / "only-one.yaml").write_text(dump(data), encoding="utf-8")
    monkeypatch.setenv("SHIFU_HOME", str(home))
    assert [s.id for s in load_all()] == ["only-one"]


# -- the validate verb's own paths (in-process: the command module alone starts fast) ---------------

def invoke(*args: str):
    from typer.testing import CliRunner

    from shifu.commands.scenarios import app

    return CliRunner().invoke(app, list(args))


def test_validate_a_missing_path_or_an_empty_folder_fails_clearly(tmp_path: Path) -> None:
    r = invoke("validate", str(tmp_path / "nope.yaml"))
    assert r.exit_code == 1 and "nope.yaml: (file): does not exist — fix:" in r.stderr
    (tmp_path / "empty").mkdir()
    r = invoke("validate", str(tmp_path / "empty"))
    assert r.exit_code == 1 and "empty: (folder): has no scenario files — fix:" in r.stderr


def test_validate_counts_only_scenario_files_when_a_rubric_is_broken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    (home / "scenarios").mkdir(parents=True)
    (home / "grader" / "rubrics").mkdir(parents=True)
    # question kinds, and the engine's demands that buyer lines name (`asks`)
    for name in ("question_kinds.yaml", "engine.yaml"):
        (home / "grader" / name).write_text((paths.grader_dir() / name).read_text(encoding="utf-8"), encoding="utf-8")
    for rubric in paths.grader_dir().joinpath("rubrics").glob("*.yaml"):
        (home / "grader" / "rubrics" / rubric.name).write_text(rubric.read_text(encoding="utf-8"), encoding="utf-8")
    (home / "grader" / "rubrics" / "after_sales.yaml").write_text("id: after_sales\n", encoding="utf-8")
    data = base()
    data["id"] = "uses-broken-rubric"
    (home / "scenarios" / "uses-broken-rubric.yaml").write_text(dump(data), encoding="utf-8")
    monkeypatch.setenv("SHIFU_HOME", str(home))
    monkeypatch.chdir(home)
    r = invoke("validate")
    assert r.exit_code == 1
    err = r.stderr.strip().splitlines()
    assert any(l.startswith("scenarios/uses-broken-rubric.yaml:") and ": rubric: " in l for l in err), r.stderr
    assert err[-1].startswith("1 of 1 scenario files have problems") and "also in grader/rubrics/after_sales.yaml" in err[-1]


# -- the practice conversations that go with the library --------------------------------------------

CONVERSATIONS = ROOT / "tests" / "data" / "conversations"


def test_every_scenario_has_practice_conversations(library) -> None:
    missing = [s.id for s in library if not (CONVERSATIONS / f"{s.id}.yaml").exists()]
    assert not missing, f"no tests/data/conversations/<id>.yaml for {missing}"


def test_good_conversations_never_use_a_forbidden_offer(library) -> None:
    for s in library:
        path = CONVERSATIONS / f"{s.id}.yaml"
        if not path.exists():
            continue
        good = yaml.safe_load(path.read_text(encoding="utf-8"))["good"]
        assert 3 <= len(good) <= 6, f"{s.id}: a good conversation has 3-6 replies"
        for reply in good:
            text = reply if isinstance(reply, str) else reply["reply"]
            used = [c for r in s.never_offer for c in r.cues if c in text]
            assert not used, f"{s.id}: a good reply uses never_offer cues {used}"
