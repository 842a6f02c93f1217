"""Numbers and names as people read them in a report: signed percentages, thousands separators.

Every figure of a report goes through these functions, so the HTML page, the
Markdown tables and the tests agree on one spelling. A missing figure (a
failed module, a ratio over a zero default) is spelled `MISSING`.
"""

from __future__ import annotations

import html

MISSING = "—"


def change(ratio: float | None, digits: int = 2) -> str:
    """A ratio policy/default as a signed change: 0.9712 -> "-2.88%", 1.0 -> "+0.00%"."""
    if ratio is None:
        return MISSING
    return f"{(ratio - 1.0) * 100.0:+.{digits}f}%"


def ratio(value: float | None) -> str:
    """A ratio with four decimals (0.9712), as the evaluation JSON's ratios are read."""
    return MISSING if value is None else f"{value:.4f}"


def amount(value: float | None, unit: str = "") -> str:
    """A size or cost with thousands separators: whole numbers without decimals, others with two."""
    if value is None:
        return MISSING
    if float(value).is_integer():
        text = f"{value:,.0f}"
    else:
        text = f"{value:,.2f}"
    return f"{text} {unit}" if unit else text


def difference(value: float | None) -> str:
    """A signed difference with thousands separators: -1234 -> "-1,234", 0.5 -> "+0.50"."""
    if value is None:
        return MISSING
    if float(value).is_integer():
        return f"{value:+,.0f}"
    return f"{value:+,.2f}"


def seconds(value: float | None) -> str:
    return MISSING if value is None else f"{value:,.3f} s"


def count(value: int | None) -> str:
    return MISSING if value is None else f"{value:,}"


def html_text(text: object) -> str:
    """`text` escaped for HTML content and attribute values (module names come from untrusted corpora)."""
    return html.escape(str(text), quote=True)


def markdown_text(text: object) -> str:
    """`text` safe inside a Markdown table cell: HTML escaped, pipes escaped, one line."""
    escaped = html.escape(" ".join(str(text).split()), quote=False)
    return escaped.replace("|", "\\|").replace("`", "\\`")


def csv_text(text: str) -> str:
    """`text` safe in a CSV cell a spreadsheet may open: a leading formula character gets a quote."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def plot_text(text: str) -> str:
    """`text` for a matplotlib label: dollar signs escaped so no mathtext is interpreted."""
    return text.replace("$", r"\$")
