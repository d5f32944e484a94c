"""A CJK font for matplotlib, so Chinese chart labels never render as empty boxes.

The font files come with the `mplfonts` package (a dependency), so no system font is needed.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

_PREFERRED = ("NotoSansCJKsc-Regular.otf", "SourceHanSerifSC-Regular.otf", "SimHei.ttf")
_SYSTEM_FALLBACKS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Zen Hei", "SimHei", "Microsoft YaHei", "PingFang SC")


@lru_cache(maxsize=1)
def setup_cjk_font() -> str:
    """Register a CJK font with matplotlib and make it the default sans-serif; return its family name."""
    import matplotlib
    from matplotlib import font_manager

    family = ""
    try:
        import mplfonts

        font_dir = Path(mplfonts.__file__).parent / "fonts"
        for name in _PREFERRED:
            path = font_dir / name
            if path.exists():
                font_manager.fontManager.addfont(str(path))
                family = font_manager.FontProperties(fname=str(path)).get_name()
                break
    except ImportError:
        pass
    if not family:
        installed = {f.name for f in font_manager.fontManager.ttflist}
        family = next((f for f in _SYSTEM_FALLBACKS if f in installed), "")
    if not family:
        raise RuntimeError("no CJK font found: install the mplfonts package (pip install mplfonts) or Debian's fonts-noto-cjk")
    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["font.sans-serif"] = [family, *matplotlib.rcParams["font.sans-serif"]]
    matplotlib.rcParams["axes.unicode_minus"] = False
    return family


def css_font_face(text: str, family: str = "Shifu CJK") -> str:
    """An @font-face rule carrying just the CJK glyphs `text` uses, so an HTML report shows Chinese
    even where the reader's machine has no CJK font (bare servers, containers). Empty if none is needed."""
    chars = sorted({ch for ch in text if ord(ch) > 0x2E7F})
    if not chars:
        return ""
    try:
        import base64
        import io

        import mplfonts
        from fontTools import subset

        path = Path(mplfonts.__file__).parent / "fonts" / _PREFERRED[0]
        options = subset.Options()
        options.name_IDs = ["*"]
        options.hinting = False
        font = subset.load_font(str(path), options)
        subsetter = subset.Subsetter(options)
        subsetter.populate(text="".join(chars))
        subsetter.subset(font)
        buf = io.BytesIO()
        subset.save_font(font, buf, options)
    except Exception:  # the report still reads with the reader's own fonts
        return ""
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    # declared for the normal weight: a browser draws bold and medium headings (<h4>, <b>, <th>) from it by
    # thickening it (a weight range here would tell it not to). The family must come first in a font list
    # (FONT_STACK): behind Helvetica or Arial, headless Chromium without CJK fonts drew □ for every weight.
    return f'@font-face{{font-family:"{family}";src:url(data:font/otf;base64,{data}) format("opentype");}}'


# The embedded face first: it holds only CJK glyphs, so Latin letters and digits still come from the fonts after it.
FONT_STACK = '"Shifu CJK","Helvetica Neue",Helvetica,Arial,"Noto Sans CJK SC",sans-serif'
MONO_STACK = '"Shifu CJK",Menlo,Consolas,"DejaVu Sans Mono",monospace'
_FALLBACK_CSS = (
    f'body,h1,h2,h3,h4,h5,h6,b,strong,th{{font-family:{FONT_STACK}}}'
    f'pre,code,kbd,samp,.highlight,.highlight *{{font-family:{MONO_STACK}}}'
)


def embed_cjk_font(html_path: Path) -> None:
    """Give an HTML page written by another tool (nbgrader's feedback) the CJK glyphs it uses."""
    embed_shared_cjk_font([html_path])


# one shared subset holds at most this many glyphs (~250 bytes each): pages beyond it get another
SHARED_GLYPHS = 1500


_CJK = re.compile("[\u2e80-\U0010ffff]")


def _cjk(text: str) -> set[str]:
    # a regular expression scans a 300 kB page (inlined CSS) in C; a Python loop over it took ~0.1 s
    return set(_CJK.findall(text))


def embed_shared_cjk_font(html_paths: list[Path], max_glyphs: int = SHARED_GLYPHS) -> None:
    """Give several HTML pages @font-face rules holding the CJK glyphs they use together.

    Subsetting the font costs 0.3-0.7 s of CPU per call, more than grading a small notebook: pages
    (a cohort's feedback, in order) share one subset, a new one started whenever the shared glyphs
    would pass MAX_GLYPHS, so a page stays small. Pages that already carry the face, or have no
    <head>, are left alone."""
    groups: list[tuple[set[str], dict[Path, str]]] = []
    for path in html_paths:
        text = path.read_text(encoding="utf-8")
        if "Shifu CJK" in text or "</head>" not in text:
            continue
        chars = _cjk(text)
        if not groups or len(groups[-1][0] | chars) > max_glyphs:
            groups.append((set(), {}))
        groups[-1][0].update(chars)
        groups[-1][1][path] = text
    for chars, pages in groups:
        face = css_font_face("".join(sorted(chars)))
        if not face:
            continue
        for path, text in pages.items():
            path.write_text(text.replace("</head>", f"<style>{face}{_FALLBACK_CSS}</style></head>", 1),
                            encoding="utf-8")
