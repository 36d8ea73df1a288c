"""The server-drawn SVG charts: proportions, escaping, accessibility, no styles or scripts."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from hotline.reports import charts

SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output, not untrusted input


def _bars(svg: str) -> list[ET.Element]:
    return [el for el in _parse(svg).iter(f"{SVG}rect") if el.get("class") == "bar"]


def test_bar_chart_lengths_are_proportional_to_counts():
    svg = str(charts.bar_chart("c1", "By channel", [("sms", 4), ("web", 1), ("voice", 0)]))
    widths = [float(bar.get("width")) for bar in _bars(svg)]
    assert widths == [charts.BAR_AREA, charts.BAR_AREA / 4, 0]
    assert [bar.get("data-value") for bar in _bars(svg)] == ["4", "1", "0"]
    root = _parse(svg)
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "c1-title"
    assert root.find(f"{SVG}title").text == "By channel"


def test_labels_and_titles_are_escaped():
    svg = str(charts.bar_chart("c2", "<b>t</b>", [("<script>alert(1)</script>", 2)]))
    assert "<script>" not in svg and "<b>" not in svg
    assert "&lt;script&gt;" in svg
    _parse(svg)  # still well-formed


def test_empty_chart_says_so():
    svg = str(charts.bar_chart("c3", "Nothing", []))
    assert "no data" in svg and not _bars(svg)


def test_column_chart_heights_and_sparse_labels():
    points = [(f"2026-01-{day:02d}", day % 3) for day in range(1, 31)]
    svg = str(charts.column_chart("days", "Per day", points))
    bars = _bars(svg)
    assert len(bars) == 30
    heights = [float(bar.get("height")) for bar in bars]
    tallest = charts.COLUMN_AREA_HEIGHT - 6
    assert heights[1] == tallest and heights[0] == tallest / 2 and heights[2] == 0
    # Every column sits on the axis.
    for bar in bars:
        assert abs(float(bar.get("y")) + float(bar.get("height"))
                   - charts.COLUMN_AREA_HEIGHT) < 0.02
    date_labels = [t.text for t in _parse(svg).iter(f"{SVG}text")
                   if t.text and t.text.startswith("2026-")]
    assert 1 < len(date_labels) <= charts.MAX_X_LABELS
    assert bars[4].find(f"{SVG}title").text == "2026-01-05: 2"


def test_charts_need_no_styles_scripts_or_other_hosts():
    svg = str(charts.column_chart("d", "x", [("a", 1)])) + str(charts.bar_chart("b", "y",
                                                                               [("a", 1)]))
    assert "style" not in svg and "<script" not in svg
    assert re.findall(r"https?://[^\"]+", svg) == ["http://www.w3.org/2000/svg"] * 2


def test_axis_labels_can_be_shortened_while_tooltips_keep_the_full_label():
    svg = str(charts.column_chart("d", "x", [("2026-03-01", 1)], axis_label=lambda s: s[5:]))
    texts = [t.text for t in _parse(svg).iter(f"{SVG}text")]
    assert "03-01" in texts and "2026-03-01" not in texts
    assert _bars(svg)[0].find(f"{SVG}title").text == "2026-03-01: 1"


def test_label_column_fits_the_longest_label():
    short = _parse(str(charts.bar_chart("a", "t", [("ko", 1)])))
    long = _parse(str(charts.bar_chart("b", "t", [("information_provided", 1)])))
    assert float(short.get("width")) == charts.LABEL_WIDTH_MIN + charts.BAR_AREA \
        + charts.VALUE_WIDTH
    bar = _bars(ET.tostring(long, encoding="unicode"))[0]
    assert float(bar.get("x")) >= len("information_provided") * charts.CHAR_WIDTH
