"""Judging policies on a corpus, and reports of what was found.

evaluate         compile a corpus under a policy and under the default heuristic; the evaluation JSON
evaluation_json  the evaluation JSON's module entries and summary, writing it, its summary tables
search           a greedy one-flip-at-a-time search for better decisions than the default, per module
inputs           reading evaluation JSON, training run folders and search results, checked
analysis         the figures a report derives from them (extremes, per-project totals, headroom)
tables           the report's tables as data
formatting       numbers and names as people read them
plots            the report's plots (PNG, headless)
render           writing a report: HTML page, Markdown tables, CSV, plots
"""
