"""Replies written in traditional script, turned into the simplified script the word lists are written in.

Character by character is not enough: 覆, 著 … are simplified characters too, so 回覆/答覆 stay as written
and never meet 回复/答复, 著急 never meets 着急, and a Taiwanese writer's 連結/影片/聯絡 never meet 链接/视频/联系.
grader/traditional.yaml names two OpenCC configurations that convert by phrase: one for every reply with
Chinese in it (``t2s``: 回覆 → 回复, the phrase-aware form of the character conversion every reply always had;
回覆 is typed in simplified replies too) and one for a reply in traditional script (``tw2s``: also 著急 → 着急,
盯著 → 盯着, 著名 stays; not for simplified text, where it reads 行么 as 行幺). Then a table of spellings OpenCC
leaves (甚么 → 什么), for every reply, and a table of Taiwan and Hong Kong words (連結 → 链接), only for a reply in
traditional script, because 影片, 联络, 线上 are mainland words as well.

The conversion keeps a map back to the original text (a hit is quoted as the trainee wrote it), so a phrase
that changes length (重新整理 → 刷新) maps each of its new characters into the phrase it came from.
"""
from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator

from shifu.content import paths
from shifu.content.yamlio import Strict, load_model


class ScriptRules(Strict):
    """grader/traditional.yaml."""

    converter: str = Field(description="the OpenCC configuration for every reply with Chinese in it: traditional "
                                       "to simplified by phrase")
    traditional_converter: str = Field(description="the OpenCC configuration for a reply in traditional script")
    variants: dict[str, str] = Field(default_factory=dict,
                                     description="after OpenCC, in any reply: a spelling the word lists do not use -> theirs")
    regional: dict[str, str] = Field(default_factory=dict,
                                     description="after OpenCC, in a reply in traditional script: a Taiwan or Hong Kong "
                                                 "word -> the mainland word the lists use")

    @field_validator("converter", "traditional_converter")
    @classmethod
    def _known(cls, v: str) -> str:
        try:
            import opencc
        except ImportError:  # checked where it is installed; without it the conversion is skipped
            return v
        try:
            opencc.OpenCC(v)
        except Exception:
            raise ValueError(f"{v!r} is not an OpenCC configuration; use one that ends in 2s or 2sp "
                             "(tw2sp, tw2s, hk2s, t2s)") from None
        return v

    @field_validator("variants", "regional")
    @classmethod
    def _not_blank(cls, v: dict[str, str]) -> dict[str, str]:
        for key, value in v.items():
            if not str(key).strip() or not str(value).strip():
                raise ValueError(f"the variant {key!r}: {value!r} has an empty side; write both spellings")
        return {str(k): str(x) for k, x in v.items()}


def script_rules() -> ScriptRules:
    """The rules of the current content root, re-read when the file changes; ShifuError naming the file, field
    and fix when it is missing or malformed.

    Every cue word and every reply is normalised through here, so the file is found once per content root
    (SHIFU_HOME, else the working folder) and only stat'ed after that: the shared cache (cached_by_file)
    finds and resolves the path each time, which added about a third to the reading of a short reply."""
    try:
        cwd = os.getcwd()
    except OSError:  # the working folder was removed: the content root does not depend on it then
        cwd = ""
    path = _rules_file(os.environ.get("SHIFU_HOME"), cwd)
    try:
        st = os.stat(path)
    except OSError:
        return _parse(Path(path))  # reports the missing file
    stamp = (st.st_mtime_ns, st.st_size)
    hit = _LOADED.get(path)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    rules = _parse(Path(path))
    _LOADED[path] = (stamp, rules)
    return rules


_LOADED: dict[str, tuple[tuple[int, int], ScriptRules]] = {}


@lru_cache(maxsize=16)
def _rules_file(home: str | None, cwd: str) -> str:
    """grader/traditional.yaml of the content root for this SHIFU_HOME and working folder."""
    return str((paths.grader_dir() / "traditional.yaml").resolve())


def _parse(path: Path) -> ScriptRules:
    return load_model(path, ScriptRules, guide="the comments at the top of grader/traditional.yaml", first_key="converter")


@lru_cache(maxsize=8)
def _opencc(config: str) -> Callable[[str], str] | None:
    """OpenCC's converter; None without the library (the text then stays as the characters were converted)."""
    try:
        import opencc

        return opencc.OpenCC(config).convert
    except Exception:
        return None


@lru_cache(maxsize=64)
def _variants_regex(keys: tuple[str, ...]) -> re.Pattern[str] | None:
    if not keys:
        return None
    return re.compile("|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True)))


# Phrases never span these: a text whose conversion changes length is aligned piece by piece.
_PIECES = re.compile(r"[^\s,.!?;:，。！？；：、…~]+|[\s,.!?;:，。！？；：、…~]+")
_ALIGN_MAX = 256  # longer pieces (no punctuation at all) are mapped in proportion, not by diff: a hostile reply


def _spread(src_where: list[int], a: int, b: int, new_len: int) -> list[int]:
    """Where each of `new_len` characters that replace the characters [a, b) came from: in proportion, the first
    from the first and the last from the last (刷新 for 重新整理 quotes all four)."""
    n = b - a
    if new_len == n:
        return src_where[a:b]
    if n == 0:  # inserted: from the character before
        return [src_where[max(0, a - 1)]] * new_len if src_where else [0] * new_len
    if new_len == 1:
        return [src_where[a]]
    return [src_where[a + round(k * (n - 1) / (new_len - 1))] for k in range(new_len)]


def _map_piece(src_where: list[int], a: int, b: int, src: str, out: str) -> list[int]:
    """Where each character of `out`, OpenCC's conversion of `src` (the characters [a, b)), came from: what
    stayed maps one to one, what changed is spread over what it replaced."""
    if len(out) == len(src) or len(src) > _ALIGN_MAX or len(out) > _ALIGN_MAX:
        return _spread(src_where, a, b, len(out))
    where: list[int] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, src, out, autojunk=False).get_opcodes():
        if tag == "equal":
            where.extend(src_where[a + i1:a + i2])
        else:
            where.extend(_spread(src_where, a + i1, a + i2, j2 - j1))
    return where


def _convert(text: str, where: list[int], convert: Callable[[str], str]) -> tuple[str, list[int]]:
    out = convert(text)
    if len(out) == len(text):
        return out, list(where)
    parts: list[str] = []
    new_where: list[int] = []
    for m in _PIECES.finditer(text):
        piece = m.group(0)
        new = convert(piece)
        parts.append(new)
        new_where.extend(_map_piece(where, m.start(), m.end(), piece, new))
    return "".join(parts), new_where


def _replace_variants(text: str, where: list[int], table: dict[str, str]) -> tuple[str, list[int]]:
    rx = _variants_regex(tuple(table))
    if rx is None or not rx.search(text):
        return text, where
    parts: list[str] = []
    new_where: list[int] = []
    pos = 0
    for m in rx.finditer(text):
        parts.append(text[pos:m.start()])
        new_where.extend(where[pos:m.start()])
        new = table[m.group(0)]
        parts.append(new)
        new_where.extend(_spread(where, m.start(), m.end(), len(new)))
        pos = m.end()
    parts.append(text[pos:])
    new_where.extend(where[pos:])
    return "".join(parts), new_where


def to_simplified_map(text: str, where: list[int], traditional: bool) -> tuple[str, list[int]]:
    """(`text` converted by phrase, then with the variant table applied, and with the regional table too when
    `traditional` (the reply has a traditional character in it); where each of its characters came from, given
    `where` for each character of `text`). `text` is already lower-cased and NFKC-normal.

    Raises ShifuError naming grader/traditional.yaml, the field and the fix when that file is missing or wrong."""
    rules = script_rules()
    convert = _opencc(rules.traditional_converter if traditional else rules.converter)
    if convert is not None:
        text, where = _convert(text, where, convert)
    text, where = _replace_variants(text, where, rules.variants)
    if traditional:
        text, where = _replace_variants(text, where, rules.regional)
    return text, where


