"""Feedback pages with nothing that runs: no <script>, no on…= handlers, no javascript: links.

A feedback page carries what a trainee wrote (markdown answers, cell outputs, file names) and is
opened by the trainee and by the mentor, so anything executable in it is stored cross-site
scripting. nbconvert's `sanitize_html` does not reach the nbgrader feedback template's markdown
cells, so instead of trusting each place markup can come from, the whole rendered page is cleaned
as the last step, with bleach (the allowlist sanitizer nbconvert itself uses):

- the <head> is rebuilt from what the template puts there for layout: the charset, the title (as
  text) and its <style> sheets (nbconvert's and bootstrap's CSS); its <script> elements (MathJax
  from a CDN: useless offline) and anything else go.
- the <body> keeps an allowlist of layout elements and attributes; every other element is
  escaped (shown as text, not run: a trainee sees the <script> they wrote), <style> elements in
  the body go (a trainee's CSS could hide or fake parts of the page), every on…= attribute is
  dropped, and links and images keep only http(s)/mailto/#anchors and data: URLs (an image in a
  data: URL runs nothing); inline style="" keeps layout properties only.

Input: one HTML document as nbconvert writes it. Output: the same document, cleaned. Idempotent.
"""
from __future__ import annotations

import re
from functools import lru_cache
from html import escape, unescape
from pathlib import Path

import bleach
from bleach.css_sanitizer import CSSSanitizer

# what notebooks render to (markdown, pandas tables, pygments spans, images, math) — nothing that runs
BODY_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "col", "colgroup", "dd", "del", "details",
    "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
    "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strike", "strong",
    "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul", "var",
})
ATTRIBUTES = {
    "*": ["class", "id", "name", "title", "style", "align", "lang", "dir"],
    "a": ["href", "name", "title", "class", "id", "target", "rel"],
    "img": ["src", "alt", "width", "height", "class", "style"],
    "td": ["colspan", "rowspan", "class", "style", "align"],
    "th": ["colspan", "rowspan", "class", "style", "align", "scope"],
    "col": ["span", "width"],
    "ol": ["start", "type"],
}
PROTOCOLS = frozenset({"http", "https", "mailto", "data"})

_BODY = re.compile(r"(<body\b[^>]*>)(.*)(</body\s*>)", re.S | re.I)
_HEAD = re.compile(r"(<head\b[^>]*>)(.*?)(</head\s*>)", re.S | re.I)


_TITLE = re.compile(r"<title\b[^>]*>(.*?)</title\s*>", re.S | re.I)
# as a browser reads a style sheet: raw text up to the first </style
_STYLE = re.compile(r"<style\b[^>]*>(.*?)</style\s*>", re.S | re.I)


@lru_cache(maxsize=1)
def _cleaner() -> bleach.Cleaner:
    return bleach.Cleaner(tags=BODY_TAGS, attributes=ATTRIBUTES, protocols=PROTOCOLS, strip=False,
                          strip_comments=True, css_sanitizer=CSSSanitizer(allowed_css_properties=_CSS_PROPERTIES))


# layout only; bleach drops url()/expression() values of anything not listed
_CSS_PROPERTIES = frozenset({
    "background-color", "border", "border-bottom", "border-collapse", "border-left", "border-right", "border-top",
    "border-spacing", "color", "display", "float", "font", "font-family", "font-size", "font-style", "font-weight",
    "height", "line-height", "margin", "margin-bottom", "margin-left", "margin-right", "margin-top", "max-height",
    "max-width", "min-width", "overflow", "overflow-x", "padding", "padding-bottom", "padding-left",
    "padding-right", "padding-top", "text-align", "text-decoration", "vertical-align", "white-space", "width",
})


def clean_page(html: str) -> str:
    """HTML with nothing executable left in it (see the module docstring); the page's layout stays."""
    head = _HEAD.search(html)
    body = _BODY.search(html)
    if head is None or body is None:  # not a whole document: clean all of it as body content
        return _clean_body(html)
    title = _TITLE.search(head.group(2))
    parts = ['<meta charset="utf-8" />']
    if title:
        parts.append(f"<title>{escape(unescape(title.group(1)))}</title>")
    parts += [f"<style>{css}</style>" for css in _STYLE.findall(head.group(2))]
    return ("<!DOCTYPE html>\n<html>\n<head>\n" + "\n".join(parts) + "\n</head>\n<body>" +
            _clean_body(body.group(2)) + "</body>\n</html>\n")


def _clean_body(html: str) -> str:
    return _cleaner().clean(_STYLE.sub("", html))


def clean_file(path: Path) -> None:
    """Clean one HTML file in place (UTF-8)."""
    path.write_text(clean_page(path.read_text(encoding="utf-8")), encoding="utf-8")


def clean_fragment(html: str) -> str:
    """A piece of HTML (an output, a markdown cell's raw HTML) with nothing executable left; layout stays."""
    return _clean_body(html)


# ---------------------------------------------------------------- the mentor's formgrader page

# markdown links and images whose target runs or renders a page: [x](javascript:…), ![](data:text/html…)
_MD_RISKY_LINK = re.compile(r"(\]\(\s*<?\s*)(?:javascript|vbscript|data\s*:\s*text/html)(?:[^()]|\([^()]*\))*\)", re.I)
# output types a browser runs, or that can carry script (SVG); the mentor sees the text/plain form instead
_RUNNABLE_OUTPUTS = ("application/javascript", "text/javascript", "image/svg+xml")


def _text(value: object) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def clean_notebook_markup(nb: object) -> None:
    """Clean, in place, every place a trainee's markup reaches an HTML page: markdown and raw cells, and
    text/html and text/markdown outputs; drop outputs a browser would run (JavaScript, SVG)."""
    for cell in getattr(nb, "cells", []):
        if cell.get("cell_type") in ("markdown", "raw"):
            source = _text(cell.get("source", ""))
            if "<" in source:
                source = clean_fragment(source)
            cell["source"] = _MD_RISKY_LINK.sub(r"\1#)", source)
        for out in cell.get("outputs", []) or []:
            data = out.get("data")
            if not data:
                continue
            for mime in list(data):
                if mime in _RUNNABLE_OUTPUTS:
                    del data[mime]
                elif mime in ("text/html", "text/markdown"):
                    data[mime] = clean_fragment(_text(data[mime]))


try:  # nbconvert is there wherever the formgrader runs
    from nbconvert.preprocessors import Preprocessor

    class CleanTraineeMarkup(Preprocessor):
        """nbconvert preprocessor for the mentor's formgrader: the submission page keeps nbgrader's own
        grading scripts, so it cannot be cleaned whole like a feedback page; instead every piece of markup
        a trainee wrote is cleaned before the page is rendered (nbgrader's formgrade template renders
        markdown cells without nbconvert's sanitize_html, and outputs hold whatever the kernel displayed)."""

        def preprocess(self, nb, resources):  # type: ignore[no-untyped-def]
            clean_notebook_markup(nb)
            return nb, resources
except ImportError:  # pragma: no cover - a trainee kernel without nbconvert never renders pages
    pass

# The mentor's jupyter_server_config.json (shifu lab --mentor, shifu hub up): the formgrader's exporter
# runs the preprocessor above on every submission it shows.
MENTOR_SERVER_CONFIG = {"HTMLExporter": {"preprocessors": ["shifu.grading.safe_html.CleanTraineeMarkup"]}}


__all__ = ["clean_page", "clean_file", "clean_fragment", "clean_notebook_markup", "MENTOR_SERVER_CONFIG"]
