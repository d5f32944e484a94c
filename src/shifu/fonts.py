"""A CJK font for matplotlib, so Chinese chart labels never render as empty boxes.

The font files come with the `mplfonts` package (a dependency), so no system font is needed.
"""
from __future__ import annotations

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
