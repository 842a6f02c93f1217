"""The report's HTML page: one self-contained file of titled sections, each its tables and plots in order.

Plots are embedded as base64 PNG, a small inline script sorts the sortable
tables, and a Content-Security-Policy forbids any network access, so the
page works offline. All text is escaped for HTML (module, project and
policy names come from untrusted corpora).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from compiler_opt.report import formatting as fmt
from compiler_opt.report import plots as draw
from compiler_opt.report.tables import Table

__all__ = ["Section", "render_html"]

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #1f2328; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #d0d7de; } h3 { margin-top: 1.5em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top; }
.wide { overflow-x: auto; }
th { background: #f6f8fa; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.sortable th { cursor: pointer; user-select: none; }
th[aria-sort=ascending]::after { content: " \\25B2"; } th[aria-sort=descending]::after { content: " \\25BC"; }
.good { color: #1a7f37; } .bad { color: #cf222e; } .note { color: #59636e; font-size: 0.92em; }
.verdict { font-weight: 600; }
.scroll { max-height: 36em; overflow: auto; } figure { margin: 1em 0; } img { max-width: 100%; }
"""

_SCRIPT = """
(function () {
  function key(cell) {
    var value = cell.getAttribute("data-sort");
    if (value === null) { return cell.textContent; }
    if (value === "") { return null; }
    var number = Number(value);
    return isNaN(number) ? value : number;
  }
  function compare(a, b) {
    if (a === b) { return 0; }
    if (typeof a === "number" && typeof b === "number") { return a < b ? -1 : 1; }
    return String(a).localeCompare(String(b));
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    var headings = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(headings, function (heading, column) {
      heading.addEventListener("click", function () {
        var ascending = heading.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(headings, function (other) { other.removeAttribute("aria-sort"); });
        heading.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r, s) {
          var a = key(r.cells[column]), b = key(s.cells[column]);
          if (a === null || b === null) { return a === b ? 0 : (a === null ? 1 : -1); }
          return ascending ? compare(a, b) : compare(b, a);
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
})();
"""

_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'"
)


@dataclass(frozen=True)
class Section:
    """A titled part of the page: tables and plots, in order."""

    title: str
    anchor: str
    parts: tuple[Table | draw.Plot | str, ...]


def _html_table(table: Table) -> str:
    heading = "".join(f"<th>{fmt.html_text(column)}</th>" for column in table.columns)
    body = []
    for row in table.rows:
        cells = []
        for cell in row:
            classes = " ".join(c for c in ("num" if cell.numeric else "", cell.tone) if c)
            attributes = f' class="{classes}"' if classes else ""
            if cell.numeric:
                attributes += f' data-sort="{"" if cell.sort is None else fmt.html_text(repr(cell.sort))}"'
            text = fmt.html_text(cell.text)
            if not cell.numeric:
                text = text.replace("/", "/<wbr>")  # module paths may break after a slash, never inside a name
            cells.append(f"<td{attributes}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    kind = ' class="sortable"' if table.sortable else ""
    ident = f' id="{fmt.html_text(table.key)}"' if table.key else ""
    note = f'<p class="note">{fmt.html_text(table.note)}</p>' if table.note else ""
    wrapper = ' class="wide scroll"' if len(table.rows) > 25 else ' class="wide"'
    return (
        f"<h3>{fmt.html_text(table.title)}</h3>{note}<div{wrapper}><table{kind}{ident}><thead><tr>{heading}"
        f"</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _html_plot(plot: draw.Plot) -> str:
    data = base64.b64encode(plot.png).decode("ascii")
    caption = fmt.html_text(plot.caption)
    return (
        f'<figure><img alt="{caption}" src="data:image/png;base64,{data}">'
        f'<figcaption class="note">{caption} ({fmt.html_text(plot.filename)})</figcaption></figure>'
    )


def render_html(sections: Sequence[Section], subtitle: str, verdicts: Sequence[str] = ()) -> str:
    """The whole page: a title, the verdicts (learned policies against built-in ones), a navigation line, then
    each section's tables and plots."""
    verdict_html = "".join(f'<p class="verdict">{fmt.html_text(line)}</p>' for line in verdicts)
    nav = " · ".join(f'<a href="#{s.anchor}">{fmt.html_text(s.title)}</a>' for s in sections)
    body = []
    for section in sections:
        parts = [
            _html_table(p)
            if isinstance(p, Table)
            else _html_plot(p)
            if isinstance(p, draw.Plot)
            else f"<p>{fmt.html_text(p)}</p>"
            for p in section.parts
        ]
        body.append(f'<section id="{section.anchor}"><h2>{fmt.html_text(section.title)}</h2>{"".join(parts)}</section>')
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>mlgo report</title><style>{_STYLE}</style></head><body>"
        f"<h1>mlgo report</h1>{verdict_html}"
        f'<p class="note">{fmt.html_text(subtitle)}</p><nav>{nav}</nav>'
        f"{''.join(body)}<script>{_SCRIPT}</script></body></html>\n"
    )
