"""Judging policies on a corpus, and reports of what was found.

evaluate          compile a corpus under a policy and under the default heuristic; the evaluation JSON
evaluated_policy  the policy evaluated: a built-in name or a saved folder, checked against problem and compiler
compile_sides     compiling the modules under each side, kept objects, partial results reused
linked_libraries  the libraries linked from both sides' objects, their text sizes
runtime           the corpus's programs built under both sides, counted and timed
evaluation_json   the evaluation JSON's module entries and summary, writing it, its summary tables
search            a greedy one-flip-at-a-time search for better decisions than the default, per module
inputs            reading evaluation JSON, training run folders and search results, checked
analysis          the figures a report derives from them (extremes, per-project totals, headroom)
tables            the report's tables as data
formatting        numbers and names as people read them
plots             the report's plots (PNG, headless)
render            writing a report: inputs loaded, arranged into sections, written as files
html_page         the report's self-contained HTML page
text_files        the report's Markdown tables and CSV of modules
"""
