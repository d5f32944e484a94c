import pytest

from shifu.content.errors import ShifuError
from shifu.roleplay.scenario import load_scenario
from shifu.content.ui_text import ui_text


def test_role_play_labels_come_from_grader_ui_yaml(tmp_path, monkeypatch):
    sc = load_scenario("late-parcel-wrong-station")
    lines = ui_text().context_lines(sc)
    assert any(sc.context.shop in line for line in lines) and any("459" in line for line in lines)
    # a trainer's edit shows up without touching Python
    grader = tmp_path / "grader"
    grader.mkdir()
    text = (ui_text.__globals__["paths"].grader_dir() / "ui.yaml").read_text(encoding="utf-8")
    (grader / "ui.yaml").write_text(text.replace("店铺:{value}", "门店:{value}"), encoding="utf-8")
    monkeypatch.setattr("shifu.content.paths.grader_dir", lambda: grader)
    assert ui_text().context_lines(sc)[0].startswith("门店:")


def test_a_missing_label_names_file_and_field(tmp_path, monkeypatch):
    grader = tmp_path / "grader"
    grader.mkdir()
    (grader / "ui.yaml").write_text("mood: 心情\n", encoding="utf-8")
    monkeypatch.setattr("shifu.content.paths.grader_dir", lambda: grader)
    with pytest.raises(ShifuError) as err:
        ui_text()
    assert "ui.yaml" in str(err.value) and "send" in str(err.value) and "fix:" in str(err.value)
