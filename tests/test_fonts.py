import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from shifu.labs.fonts import setup_cjk_font


def _render(title: str) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig, ax = plt.subplots()
        ax.set_title(title)
        ax.set_xlabel("沟通能力 · 产品能力 · 运营能力")
        fig.canvas.draw()
        plt.close(fig)
    return [str(w.message) for w in caught if "missing from font" in str(w.message) or "Glyph" in str(w.message)]


def test_chinese_title_renders_without_missing_glyph_warning():
    family = setup_cjk_font()
    assert family
    assert _render("学员能力雷达图:响应时效与情绪安抚") == []


def test_missing_glyph_warning_is_detected_without_cjk_font():
    """Proves the check above can fail: DejaVu Sans alone has no Chinese glyphs."""
    with matplotlib.rc_context({"font.family": "DejaVu Sans", "font.sans-serif": ["DejaVu Sans"]}):
        assert _render("学员能力雷达图") != []


def test_html_reports_carry_the_cjk_glyphs_they_use():
    """A report must read on a machine without any CJK font: it embeds the glyphs it needs."""
    import base64
    import io
    import re

    from fontTools.ttLib import TTFont

    from shifu.labs.fonts import css_font_face

    assert css_font_face("only ascii here") == ""
    rule = css_font_face("学员进度总览 ability")
    data = re.search(r"base64,([A-Za-z0-9+/=]+)", rule).group(1)
    cmap = TTFont(io.BytesIO(base64.b64decode(data))).getBestCmap()
    assert all(ord(ch) in cmap for ch in "学员进度总览")
    assert ord("龘") not in cmap  # a subset, not the whole 16 MB font


def test_feedback_pages_get_the_glyphs_once(tmp_path):
    from shifu.labs.fonts import embed_cjk_font

    page = tmp_path / "m01.html"
    page.write_text("<html><head><title>x</title></head><body><h1>售后物流</h1></body></html>", encoding="utf-8")
    embed_cjk_font(page)
    once = page.read_text(encoding="utf-8")
    assert once.count("@font-face") == 1 and "<h1>售后物流</h1>" in once
    embed_cjk_font(page)
    assert page.read_text(encoding="utf-8") == once


def test_pages_share_one_subset_up_to_a_glyph_cap(tmp_path):
    import base64
    import io
    import re

    from fontTools.ttLib import TTFont

    from shifu.labs.fonts import embed_shared_cjk_font

    texts = {"a": "售后物流", "b": "物流退款", "c": "亲爱的买家您好"}
    pages = []
    for name, body in texts.items():
        page = tmp_path / f"{name}.html"
        page.write_text(f"<html><head></head><body>{body}</body></html>", encoding="utf-8")
        pages.append(page)
    embed_shared_cjk_font(pages, max_glyphs=6)   # a+b share 6 glyphs; c starts a subset of its own
    faces = [re.search(r"@font-face\{[^}]*\}", p.read_text(encoding="utf-8")).group(0) for p in pages]
    assert faces[0] == faces[1] != faces[2]
    for page, face in zip(pages, faces):
        data = re.search(r"base64,([A-Za-z0-9+/=]+)", face).group(1)
        cmap = TTFont(io.BytesIO(base64.b64decode(data))).getBestCmap()
        assert all(ord(ch) in cmap for ch in texts[page.stem])


def test_embedded_face_comes_first_in_every_font_list():
    """Behind Helvetica/Arial, headless Chromium without a CJK font drew □ in bold headings (issue 12)."""
    from shifu.labs import fonts
    from shifu.progress import report

    assert fonts.FONT_STACK.startswith('"Shifu CJK"') and fonts.MONO_STACK.startswith('"Shifu CJK"')
    assert "h4" in fonts._FALLBACK_CSS and "th" in fonts._FALLBACK_CSS
    assert 'body{font-family:"Shifu CJK"' in report._CSS


def _screenshot(chromium: str, html_path, png_path) -> bytes:
    import subprocess

    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={png_path}",
                    "--window-size=420,200", html_path.as_uri()], capture_output=True, timeout=120)
    return png_path.read_bytes()


def test_bold_headings_draw_the_embedded_glyphs_in_a_real_browser(tmp_path):
    """A page with the embedded face must look different from the same page without it (□ boxes):
    for a normal line, a <b> and bold <h4> of the kind nbgrader's feedback and the reports use."""
    import shutil

    import pytest

    from shifu.labs.fonts import _FALLBACK_CSS, css_font_face

    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not chromium:
        pytest.skip("needs headless chromium")
    text = "得分 学习目标"
    pages = {}
    for name, face in (("with", css_font_face(text)), ("without", "")):
        for tag in ("h4", "b", "p"):
            path = tmp_path / f"{name}-{tag}.html"
            path.write_text(f'<!DOCTYPE html><html><head><meta charset="utf-8"><style>{face}{_FALLBACK_CSS}'
                            f'h4{{font-weight:500}}</style></head><body><{tag}>{text}</{tag}></body></html>', encoding="utf-8")
            pages[name, tag] = _screenshot(chromium, path, tmp_path / f"{name}-{tag}.png")
    for tag in ("h4", "b", "p"):
        assert pages["with", tag] != pages["without", tag], f"<{tag}> shows the same boxes with and without the font"
