"""Trainee- and mentor-facing Chinese lives in YAML, never in Python (issue 10; README "Where the words live").

Every string literal in src/shifu that holds a Chinese character or Chinese punctuation is an error
unless it is a docstring (comments are not literals) or listed below with the reason it may stay.
An entry that no longer matches anything is an error too, so the list only ever shrinks.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "shifu"

# CJK ideographs (basic, extension A, compatibility), CJK symbols and punctuation (、。〔〕【】「」),
# and full-width forms (，；：！？（）)
CHINESE = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")

_SEPARATOR = "punctuation that joins pieces of YAML wording into one Chinese sentence, not wording itself"
_SIGNALS_PUNCT = "signals.py (the lead's, issue 14): punctuation class that splits a reply into clauses or sentences"
_SIGNALS_NUMERAL = "signals.py (the lead's, issue 14): Chinese numerals, read as numbers"
_SIGNALS_PHRASE = ("signals.py (the lead's, issue 14): a phrase test that belongs in grader/phrases.yaml; "
                   "left for the lead to move")
_OPERATOR = ("English text for the operator that names the notebook's 导师点评 cell by the title trainees "
             "and mentors see")

# (file under src/shifu, the literal) -> why it may stay in Python
ALLOWED: dict[tuple[str, str], str] = {
    ("cli.py", "Shifu 师傅 — training lab for e-commerce customer-service agents."):
        "the product's name in the English --help text",
    ("commands/progress.py", "CSV/.xlsx roster mentor,trainee[,assignment] naming who graded 导师点评 cells "
                             "(calibration section); default: <course>/mentors.csv when it exists"): _OPERATOR,
    ("course/demo.py", " 导师点评 cells (a harsh and a lenient one among them)"): _OPERATOR,
    ("progress/calibration.py", " 导师点评 cell(s) not graded by a mentor yet: left out"): _OPERATOR,
    ("progress/calibration.py", " — fix: sign the formgrader comment, e.g. “……(导师:王芳)”, or name each trainee's "
                                "mentor in the roster (a mentor,trainee table; default file <course>/"):
        "English fix in an operator note; quotes the signature format that progress.yaml calibration.signature reads",
    ("content/tabular.py", r"^(\d{4})\s*(?:[-/.年]\s*)(\d{1,2})\s*月?(?:\s*[-/.]?\s*\d{1,2}\s*日?)?"
                   r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"):
        "parses a month written the Chinese way (2025年1月) in a trainer's or trainee's table",
    ("content/tabular.py", r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?$"):
        "parses a date written the Chinese way (2026年5月1日) in a trainer's or trainee's table",
    ("content/tabular.py", "write 2025-01, 2025/1 or 2025年1月"): "English fix that lists the month formats the parser reads",
    ("content/tabular.py", "write YYYY-MM-DD or 2026年5月1日"): "English fix that lists the date formats the parser reads",
    ("roleplay/voices/voice_style.py", "\"“”「」'"): "quotes a model wraps its line in, stripped from its output",
    ("roleplay/voices/voice_style.py", " \t\n\"“「'"): "quotes a model opens its line with, skipped before the role check",
    ("roleplay/transcript_view.py", "。."): "a trailing full stop stripped before the reason is put into a YAML sentence",
    ("labs/datagen/complaints.py", "。"): "the full stop that ends a generated complaint made of YAML templates",
    ("course/authoring.py", "、"): _SEPARATOR,
    ("course/simulate.py", "、"): _SEPARATOR,
    ("progress/calibration.py", "、"): _SEPARATOR,
    ("progress/calibration.py", "；"): _SEPARATOR,
    ("progress/proficiency.py", "、"): _SEPARATOR,
    ("progress/proficiency.py", "；"): _SEPARATOR,
    ("progress/review.py", "、"): _SEPARATOR,
    ("progress/review.py", "；"): _SEPARATOR,
    ("reading/phrases.py", " \t\u3000\xa0"): "phrases.py (the lead's): spaces, the ideographic space among them, for normalising",
    ("reading/phrases.py", "\u3400"): "phrases.py (the lead's): first code point of the CJK range",
    ("reading/phrases.py", "\u9fff"): "phrases.py (the lead's): last code point of the CJK range",
    ("reading/signals.py", "[!?;。！？；\\n]"): _SIGNALS_PUNCT,
    ("reading/signals.py", "[,.!?;:。，！？；：\\n]"): _SIGNALS_PUNCT,
    ("reading/signals.py", "[,.!?;:。，！？；：、\\n\\r\\t…]+|(?<=[\\u4e00-\\u9fff])\\s+|"
                   "(?<![^\\S\\n\\r\\t])[^\\S\\n\\r\\t]+(?=[\\u4e00-\\u9fff])"): _SIGNALS_PUNCT,
    ("reading/signals.py", "[!?;。！？；\\n\\r]+|\\.(?=\\s|$)"): _SIGNALS_PUNCT,
    ("reading/signals.py", "[\\s()（）,，/]+"): _SIGNALS_PUNCT,
    ("reading/signals.py", "[\\s,，、]+"): _SIGNALS_PUNCT,
    ("reading/signals.py", "？"): _SIGNALS_PUNCT,
    ("reading/signals.py", "?？"): _SIGNALS_PUNCT,
    **{("reading/signals.py", n): _SIGNALS_NUMERAL for n in "零〇一二两三四五六七八九十百千万"},
    ("reading/traditional.py", "[^\\s,.!?;:，。！？；：、…~]+|[\\s,.!?;:，。！？；：、…~]+"):
        "traditional.py: punctuation no phrase spans, where a conversion that changed length is aligned",
    ("reading/phrases.py", "零〇一二两三四五六七八九十百千万"): "phrases.py: Chinese numerals, read as numbers in an amount",
    ("reading/phrases.py", "\u115f\u1160\u3164\uffa0\u2800"):
        "phrases.py: letters that print as a blank, dropped before reading a reply (not wording)",
    ("reading/signals.py", "我|咱"): _SIGNALS_PHRASE,
    ("reading/signals.py", "您|你"): _SIGNALS_PHRASE,
    ("reading/signals.py", "(不|没|别)(理解|明白|懂)|无法理解"): _SIGNALS_PHRASE,
    ("reading/signals.py", "还是"): _SIGNALS_PHRASE,
    ("reading/signals.py", "不了"): _SIGNALS_PHRASE,
    ("reading/signals.py", "不到"): _SIGNALS_PHRASE,
    ("reading/signals.py", "不上"): _SIGNALS_PHRASE,
    ("reading/signals.py", "么"): _SIGNALS_PHRASE,
    ("reading/signals.py", "没"): _SIGNALS_PHRASE,
    ("reading/signals.py", " ~~!.。~哦啊呀哈亲"): _SIGNALS_PHRASE,
}


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                out.add(id(first.value))
    return out


def chinese_literals(source: str) -> list[tuple[int, str]]:
    """(line, value) of every string literal with Chinese in it, docstrings left out; the constant parts of
    an f-string count one by one."""
    tree = ast.parse(source)
    docs = _docstrings(tree)
    return sorted((node.lineno, node.value) for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
                  and CHINESE.search(node.value))


def _scan() -> dict[tuple[str, str], list[int]]:
    found: dict[tuple[str, str], list[int]] = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        for line, value in chinese_literals(path.read_text(encoding="utf-8")):
            found.setdefault((rel, value), []).append(line)
    return found


def test_the_scanner_finds_literals_and_skips_docstrings_and_comments():
    source = '''"""模块说明。"""
# 注释
def f():
    """函数说明。"""
    x = "亲,您好"  # 注释
    y = f"{x}【标签】"
    z = "plain ascii"
    return "、".join([x, y, z])
'''
    assert chinese_literals(source) == [(5, "亲,您好"), (6, "【标签】"), (8, "、")]


def test_no_chinese_wording_in_python_outside_the_allowlist():
    found = _scan()
    unexplained = sorted(k for k in found if k not in ALLOWED)
    assert not unexplained, (
        "Chinese text in Python; put it in the YAML file that holds that layer's words (README: "
        "'Where the words live') and load it through shifu.content.yamlio, or, if it is not wording (a parsing "
        "pattern, punctuation), add it to ALLOWED with the reason:\n"
        + "\n".join(f"  src/shifu/{f}:{found[(f, v)][0]}: {v!r}" for f, v in unexplained))


def test_every_allowlist_entry_still_matches_something():
    found = _scan()
    stale = sorted(k for k in ALLOWED if k not in found)
    assert not stale, "ALLOWED entries that match no literal any more; remove them:\n" + "\n".join(
        f"  src/shifu/{f}: {v!r}" for f, v in stale)


def test_every_allowlist_entry_has_a_reason():
    assert all(reason.strip() for reason in ALLOWED.values())
