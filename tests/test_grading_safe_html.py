"""Feedback pages are cleaned of everything that runs (shifu.grading.safe_html), whatever put it there."""
from __future__ import annotations

import re

import pytest

from shifu.grading.safe_html import clean_page

PAGE = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8" />
<title>m01 &amp; co</title>
<style type="text/css">div.cell > div.input { color: #333 } a[href^="#"] { color: blue }</style>
<script src="https://cdn.example/mathjax.js"></script>
<script>window.TEMPLATE_SCRIPT = 1</script>
<meta http-equiv="refresh" content="0;url=javascript:alert(0)">
</head>
<body>
<div class="container"><h4>wait_times (Score: 3.0 / 5.0)</h4>
<a name="answer"></a><a href="#top">(Top)</a>
BODY
</div>
</body>
</html>
"""

ATTACKS = [
    "<script>window.X=1</script>",
    "<ScRiPt >window.X=1</sCrIpT>",
    '<img src=x onerror="window.X=1">',
    '<div onmouseover="window.X=1">hover</div>',
    '<a href="javascript:alert(1)">a</a>',
    '<a href=" JaVaScRiPt:alert(1)">a</a>',
    '<a href="&#106;avascript:alert(1)">a</a>',
    '<svg onload="window.X=1"><circle/></svg>',
    '<iframe srcdoc="&lt;script&gt;window.X=1&lt;/script&gt;"></iframe>',
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    '<form action="javascript:alert(1)"><button>b</button></form>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    '<math><mi xlink:href="javascript:alert(1)">m</mi></math>',
    '<style>body { background: url("javascript:alert(1)") }</style>',
    '<span style="background-image: url(javascript:alert(1))">s</span>',
    '<sty<style></style>le>body{}</style>',
    "</body><script>window.X=1</script><body>",
    "</head><script>window.X=1</script>",
    '<!--><script>window.X=1</script>-->',
]


def _runs_nothing(html: str) -> None:
    assert re.search(r"<\s*(script|iframe|object|embed|form|base|svg|math)\b", html, re.I) is None, html
    assert re.search(r"<[^>]*\son\w+\s*=", html, re.I) is None, html
    assert re.search(r"<[^>]*(href|src|action|data)\s*=\s*[\"']?\s*javascript:", html, re.I) is None, html
    assert re.search(r"<\s*meta[^>]*http-equiv", html, re.I) is None, html
    body = html.split("<body>", 1)[-1]
    assert re.search(r"<\s*style|style\s*=\s*\"[^\"]*url\(", body, re.I) is None, html


@pytest.mark.parametrize("attack", ATTACKS)
def test_nothing_executable_survives(attack: str) -> None:
    cleaned = clean_page(PAGE.replace("BODY", attack))
    _runs_nothing(cleaned)
    assert clean_page(cleaned) == cleaned   # cleaning twice changes nothing


def test_the_template_layout_stays() -> None:
    cleaned = clean_page(PAGE.replace("BODY", '<pre><span class="k">def</span> f(): pass</pre>'
                                              '<table class="dataframe"><tr><td colspan="2">亲</td></tr></table>'
                                              '<img src="data:image/png;base64,iVBORw0KGgo=" alt="plot">'))
    assert "<title>m01 &amp; co</title>" in cleaned
    assert 'div.cell > div.input { color: #333 }' in cleaned          # the template's CSS, not escaped
    assert '<span class="k">def</span>' in cleaned
    assert '<td colspan="2">亲</td>' in cleaned
    assert 'src="data:image/png;base64,iVBORw0KGgo="' in cleaned
    assert '<a href="#top">(Top)</a>' in cleaned
    assert "TEMPLATE_SCRIPT" not in cleaned                          # even the template's own scripts go


def test_what_a_trainee_wrote_still_reads_as_text() -> None:
    cleaned = clean_page(PAGE.replace("BODY", "<p>亲,您好<script>alert(1)</script></p>"))
    assert "亲,您好" in cleaned
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in cleaned
