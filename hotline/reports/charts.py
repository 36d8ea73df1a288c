"""Charts drawn on the server as inline SVG: no JavaScript, no external assets.

The Content-Security-Policy (``style-src 'self'``) forbids ``style`` attributes and
``<style>`` elements, so everything is drawn with SVG presentation attributes (``fill``,
``font-size`` …). Every chart carries a ``<title>`` and ``role="img"``; the page puts
the same numbers in a table beside it for screen readers and copying.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from flask_babel import gettext as _
from markupsafe import Markup, escape

BAR_FILL = "#0b5cad"
AXIS_STROKE = "#8c959f"
TEXT_FILL = "#1b1f24"
FONT = 'font-family="system-ui, sans-serif" font-size="12"'

BAR_HEIGHT = 18
BAR_GAP = 6
# Label column: wide enough for the longest label at ~7 px a character, within bounds.
CHAR_WIDTH = 7
LABEL_WIDTH_MIN, LABEL_WIDTH_MAX = 50, 180
BAR_AREA = 200
VALUE_WIDTH = 50

COLUMN_AREA_HEIGHT = 140
COLUMN_CHART_WIDTH = 640
RIGHT_PADDING = 20
AXIS_LABEL_HEIGHT = 34
Y_LABEL_WIDTH = 40
# At most this many dates are written under the columns; the rest would overlap.
MAX_X_LABELS = 8


def _num(value: float) -> str:
    """A coordinate with at most two decimals and no trailing zeros."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _svg(chart_id: str, title: str, width: float, height: float, body: list[str]) -> Markup:
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" '
            f'aria-labelledby="{escape(chart_id)}-title" id="{escape(chart_id)}" '
            f'viewBox="0 0 {_num(width)} {_num(height)}" width="{_num(width)}" '
            f'height="{_num(height)}">'
            f'<title id="{escape(chart_id)}-title">{escape(title)}</title>')
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704 - every piece escaped above


def bar_chart(chart_id: str, title: str, items: Sequence[tuple[str, int]]) -> Markup:
    """Horizontal bars, one per (label, count), longest bar = the largest count."""
    peak = max((count for _label, count in items), default=0)
    longest = max((len(label) for label, _count in items), default=0)
    label_width = min(max(12 + CHAR_WIDTH * longest, LABEL_WIDTH_MIN), LABEL_WIDTH_MAX)
    width = label_width + BAR_AREA + VALUE_WIDTH
    height = max(len(items), 1) * (BAR_HEIGHT + BAR_GAP) + BAR_GAP
    body = []
    if not items:
        empty = escape(_("no data"))
        body.append(f'<text x="0" y="{BAR_HEIGHT}" fill="{TEXT_FILL}" {FONT}>{empty}</text>')
    for index, (label, count) in enumerate(items):
        top = BAR_GAP + index * (BAR_HEIGHT + BAR_GAP)
        length = BAR_AREA * count / peak if peak else 0
        middle = _num(top + BAR_HEIGHT * 0.7)
        body.append(
            f'<text x="{label_width - 6}" y="{middle}" text-anchor="end" fill="{TEXT_FILL}" '
            f'{FONT}>{escape(label)}</text>'
            f'<rect class="bar" x="{label_width}" y="{top}" width="{_num(length)}" '
            f'height="{BAR_HEIGHT}" fill="{BAR_FILL}" data-value="{count}"></rect>'
            f'<text x="{_num(label_width + length + 6)}" y="{middle}" fill="{TEXT_FILL}" '
            f'{FONT}>{count}</text>'
        )
    return _svg(chart_id, title, width, height, body)


def column_chart(chart_id: str, title: str, points: Sequence[tuple[str, int]],
                 axis_label: Callable[[str], str] = str) -> Markup:
    """Vertical columns over time (e.g. cases per day), with the peak on the y axis.

    ``axis_label`` shortens the labels written under the axis (each column's own
    tooltip keeps the full label).
    """
    peak = max((count for _label, count in points), default=0)
    plot_width = COLUMN_CHART_WIDTH - Y_LABEL_WIDTH - RIGHT_PADDING
    height = COLUMN_AREA_HEIGHT + AXIS_LABEL_HEIGHT
    slot = plot_width / max(len(points), 1)
    column = max(slot * 0.8, 0.5)
    base = COLUMN_AREA_HEIGHT
    right = COLUMN_CHART_WIDTH - RIGHT_PADDING
    body = [
        f'<line x1="{Y_LABEL_WIDTH}" y1="{base}" x2="{right}" y2="{base}" '
        f'stroke="{AXIS_STROKE}"></line>',
        f'<text x="{Y_LABEL_WIDTH - 6}" y="12" text-anchor="end" fill="{TEXT_FILL}" '
        f'{FONT}>{peak}</text>',
        f'<text x="{Y_LABEL_WIDTH - 6}" y="{base}" text-anchor="end" fill="{TEXT_FILL}" '
        f'{FONT}>0</text>',
    ]
    step = max(1, -(-len(points) // MAX_X_LABELS))
    for index, (label, count) in enumerate(points):
        left = Y_LABEL_WIDTH + index * slot + (slot - column) / 2
        tall = (COLUMN_AREA_HEIGHT - 6) * count / peak if peak else 0
        body.append(
            f'<rect class="bar" x="{_num(left)}" y="{_num(base - tall)}" '
            f'width="{_num(column)}" height="{_num(tall)}" fill="{BAR_FILL}" '
            f'data-value="{count}"><title>{escape(label)}: {count}</title></rect>'
        )
        if index % step == 0:
            body.append(
                f'<text x="{_num(left + column / 2)}" y="{base + 16}" text-anchor="middle" '
                f'fill="{TEXT_FILL}" {FONT}>{escape(axis_label(label))}</text>'
            )
    return _svg(chart_id, title, COLUMN_CHART_WIDTH, height, body)
