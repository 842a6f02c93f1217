"""`mlgo report` on evaluation files, run folders and a search file built to the shared contracts.

The inputs are made here (evaluation JSON per contract 3, with the summary
computed by `mlgo eval`'s own `summarize`; a run folder's log.jsonl per
contract 4; a search file as `mlgo search` writes it); every figure the
report shows is checked against them. The end-to-end test on real
`mlgo eval` output lives with `mlgo demo`.
"""

from __future__ import annotations

import base64
import csv
import json
import math
import random
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from compiler_opt.report import formatting as fmt
from compiler_opt.report.evaluation_json import summarize
from compiler_opt.report.inputs import ReportInputError, RunLog, load_evaluation, load_run, load_search
from compiler_opt.report.plots import loss_series, step_name, training_curves, training_panels
from compiler_opt.report.references import is_reference
from compiler_opt.report.render import make_report
from compiler_opt.report.search import headroom_reached

PNG = b"\x89PNG\r\n\x1a\n"
EVIL = '<script>alert("x")</script>/=cmd|x.o'
FORMULA = "=1+1.c"


def mlgo(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlgo.cli", *map(str, args)], capture_output=True, text=True)


def size_eval(seed: int, policy: str, linked: bool = False) -> dict:
    """An inlining evaluation: projects, a failed module, a hostile module name (the best one), figures."""
    rng = random.Random(seed)
    modules = []
    names = [f"{project}/src/file{i}.c" for project in ("zlib", "sqlite", "lua") for i in range(12)]
    for name in [*names, EVIL, FORMULA]:
        default = rng.randrange(200, 40000)
        policy_size = default // 2 if name == EVIL else max(1, int(default * rng.uniform(0.85, 1.08)))
        modules.append(
            {
                "name": name,
                "default": default,
                "policy": policy_size,
                "ok": True,
                "error": None,
                "figures": {
                    "default_text": default,
                    "policy_text": policy_size,
                    "default_text_section": default - 50,
                    "policy_text_section": policy_size - 40,
                    "decisions": rng.randrange(1, 90),
                    "seconds": 0.25,
                },
            }
        )
    modules.append(
        {
            "name": "lua/src/broken.c",
            "default": 1234,
            "policy": None,
            "ok": False,
            "error": "policy: CompilerCrash: clang crashed\nstack dump",
            "figures": {},
        }
    )
    report = {
        "problem": "inlining",
        "policy": policy,
        "corpus": "/corpus",
        "compiler": "Debian clang 19.1.7",
        "created": "2025-01-01T00:00:00+00:00",
        "measurement": "text_size",
        "seed": 0,
        "modules": modules,
        "summary": summarize(modules),
    }
    if linked:
        report["linked"] = [
            {
                "library": "libz",
                "modules": 12,
                "default": 60000,
                "policy": 58000,
                "ratio": 58000 / 60000,
                "default_text": 70000,
                "policy_text": 68000,
            },
            {
                "library": "liblua",
                "modules": 11,
                "default": None,
                "policy": None,
                "ratio": None,
                "error": "ld.lld: error: undefined symbol: main",
            },
        ]
    return report


def regalloc_eval(seed: int) -> dict:
    rng = random.Random(seed)
    modules = []
    for i in range(15):
        spills, reloads, copies = (rng.uniform(0, 500) for _ in range(3))
        default = spills + reloads + copies
        factor = rng.uniform(0.8, 1.1)
        policy = default * factor
        modules.append(
            {
                "name": f"bench/m{i}.c",
                "default": default,
                "policy": policy,
                "ok": True,
                "error": None,
                "figures": {
                    "default_cost": default,
                    "policy_cost": policy,
                    "default_spills": spills,
                    "policy_spills": spills * factor,
                    "default_reloads": reloads,
                    "policy_reloads": reloads * factor,
                    "default_copies": copies,
                    "policy_copies": copies * factor,
                    "default_text": 1000 + i,
                    "policy_text": 1000 + i + i % 3,
                },
            }
        )
    modules.append(
        {
            "name": "bench/nospill.c",
            "default": 0.0,
            "policy": 0.0,
            "ok": True,
            "error": None,
            "figures": {"default_cost": 0.0, "policy_cost": 0.0},
        }
    )
    return {
        "problem": "regalloc-eviction",
        "policy": "ppo-eviction",
        "corpus": "/corpus",
        "compiler": "Debian clang 19.1.7",
        "created": "2025-01-02T00:00:00+00:00",
        "measurement": "regalloc_cost",
        "modules": modules,
        "summary": summarize(modules),
        "runtime": [
            {
                "program": "minigzip",
                "default_instructions": 1_234_567_890,
                "policy_instructions": 1_230_000_000,
                "default_seconds": 0.8123,
                "policy_seconds": 0.8001,
            },
            {
                "program": "lua-fib",
                "default": {"instructions": 987_654_321, "seconds": 1.5},
                "policy": {"instructions": 990_000_000, "seconds": 1.51},
            },
            {"program": "yaml-roundtrip", "ok": False, "error": "the two builds printed different output"},
        ],
    }


def search_for(evaluation: dict, seed: int) -> dict:
    rng = random.Random(seed)
    modules = []
    for entry in evaluation["modules"][:-3]:
        if entry["ok"]:
            modules.append(
                {
                    "name": entry["name"],
                    "ok": True,
                    "error": None,
                    "default": entry["default"],
                    "best": int(entry["default"] * rng.uniform(0.8, 1.0)),
                }
            )
    modules.append({"name": "zlib/src/gone.c", "ok": False, "error": "timeout"})
    return {"problem": "inlining", "measurement": "text_size", "modules": modules}


def run_folder(path: Path, iterations: int, partial_last_line: bool = False) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"problem": "inlining", "algorithm": "ppo", "seed": 3}))
    lines = []
    for i in range(iterations):
        lines.append(
            json.dumps(
                {
                    "iteration": i,
                    "modules_ok": 30,
                    "modules_failed": i % 2,
                    "mean_reward": 0.001 * i - 0.01,
                    "total_ratio": 1.01 - 0.004 * i,
                    "policy_total": 100000 - 400 * i,
                    "baseline_total": 100000,
                    "seconds_collect": 10.0,
                    "seconds_train": 2.0,
                    "decisions": 5000,
                    "loss": {"policy_gradient_loss": 1.0 / (i + 1), "value_estimation_loss": 0.5 / (i + 1)},
                }
            )
        )
    text = "\n".join(lines) + "\n"
    if partial_last_line:
        text += '{"iteration": 99, "mean_rew'
    (path / "log.jsonl").write_text(text)
    return path


class _Tables(HTMLParser):
    """The page's tables by their h3 title: rows of cells, each (text, attributes); and the img sources."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[tuple[str, dict]]]] = {}
        self.images: list[str] = []
        self.title = ""
        self._in = None
        self._text = ""
        self._attrs: dict = {}

    def handle_starttag(self, tag, attrs):
        if tag in ("h3", "td", "th"):
            self._in, self._text, self._attrs = tag, "", dict(attrs)
        if tag == "table":
            self.tables[self.title] = []
        if tag == "tr":
            self.tables[self.title].append([])
        if tag == "img":
            self.images.append(dict(attrs)["src"])

    def handle_data(self, data):
        if self._in:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "h3":
            self.title = self._text
        elif tag in ("td", "th"):
            self.tables[self.title][-1].append((self._text, self._attrs))
        if tag == self._in:
            self._in = None


def parse_page(path: Path) -> _Tables:
    parser = _Tables()
    parser.feed(path.read_text())
    return parser


def rows(table) -> list[dict[str, str]]:
    heading = [text for text, _ in table[0]]
    return [dict(zip(heading, (text for text, _ in row))) for row in table[1:]]


def markdown_rows(text: str, title: str) -> list[dict[str, str]]:
    block = text.split(f"### {title}\n", 1)[1].split("\n### ", 1)[0]
    lines = [line for line in block.splitlines() if line.startswith("| ")]
    split = [[cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines]
    return [dict(zip(split[0], row)) for row in split[2:]]


@pytest.fixture
def inputs(tmp_path):
    first, second = size_eval(1, "ppo-final", linked=True), size_eval(2, "bc-warmstart")
    paths = []
    for name, report in (("first.json", first), ("second.json", second)):
        paths.append(tmp_path / name)
        paths[-1].write_text(json.dumps(report))
    search = search_for(first, 5)
    (tmp_path / "search.json").write_text(json.dumps(search))
    run = run_folder(tmp_path / "run-ppo", 7, partial_last_line=True)
    return {
        "evals": (first, second),
        "paths": paths,
        "search": search,
        "search_path": tmp_path / "search.json",
        "run": run,
    }


def test_report_figures_match_the_inputs(inputs, tmp_path):
    out = tmp_path / "report"
    result = mlgo(
        "report", *inputs["paths"], "--runs", inputs["run"], "--search", inputs["search_path"], "--output", out
    )
    assert result.returncode == 0, result.stderr
    assert str(out / "report.html") in result.stdout
    first, second = inputs["evals"]
    page = parse_page(out / "report.html")
    markdown = (out / "report.md").read_text()

    headline = rows(page.tables["Headline: policy vs the default heuristic"])
    md_headline = markdown_rows(markdown, "Headline: policy vs the default heuristic")
    assert [{**row, "Best module": fmt.markdown_text(row["Best module"])} for row in headline] == md_headline
    for row, report in zip(headline, (first, second)):
        summary = report["summary"]
        ok = [m for m in report["modules"] if m["ok"]]
        best = min(ok, key=lambda m: m["policy"] / m["default"])
        worst = max(ok, key=lambda m: m["policy"] / m["default"])
        assert row["Policy"] == report["policy"]
        assert row["Modules"] == str(len(report["modules"])) and row["Failed"] == "1"
        assert row["Default total"] == f"{sum(m['default'] for m in ok):,} bytes"
        assert row["Policy total"] == f"{sum(m['policy'] for m in ok):,} bytes"
        assert row["Total change"] == f"{(summary['total_ratio'] - 1) * 100:+.2f}%"
        assert row["Geomean change"] == f"{(summary['geomean_ratio'] - 1) * 100:+.2f}%"
        assert row["Best module"].startswith(best["name"] + " (")
        assert row["Worst module"].startswith(worst["name"] + " (")

    # per project: the first path component; the hostile name is its own project
    projects = {r["Project"]: r for r in rows(page.tables["ppo-final: per project"])}
    for project in ("zlib", "sqlite", "lua"):
        members = [m for m in first["modules"] if m["name"].startswith(project + "/") and m["ok"]]
        default, policy = sum(m["default"] for m in members), sum(m["policy"] for m in members)
        assert projects[project]["Default total"] == f"{default:,} bytes"
        assert projects[project]["Total change"] == f"{(policy / default - 1) * 100:+.2f}%"
    assert projects["lua"]["Failed"] == "1" and projects["(top level)"]["Modules"] == "1"
    assert EVIL.split("/")[0] in projects

    # the headroom agrees with `mlgo search`'s own comparison
    room = rows(page.tables["Headroom found by the search (search.json)"])
    expected = headroom_reached(first, inputs["search"])
    assert room[0]["Shared modules"] == str(expected["modules"])
    assert room[0]["Share of headroom reached"] == f"{expected['reached'] * 100:.1f}%"
    assert room[0]["Search best change"] == f"{(expected['best_ratio'] - 1) * 100:+.2f}%"
    assert room[0]["Policy change"] == f"{(expected['policy_ratio'] - 1) * 100:+.2f}%"
    assert (
        markdown_rows(markdown, "Headroom found by the search (search.json)")[0]["Share of headroom reached"]
        == room[0]["Share of headroom reached"]
    )

    linked = rows(page.tables["ppo-final: linked libraries (.text)"])
    assert linked[0]["Default"] == "60,000 bytes" and linked[0]["Change"] == f"{(58000 / 60000 - 1) * 100:+.2f}%"
    assert linked[1]["Change"] == fmt.MISSING and linked[1]["Error"].startswith("ld.lld: error")
    assert "second: linked" not in markdown and "ppo-final: linked libraries (.text)" in markdown

    # the run: 7 complete iterations (the half-written 8th is left out)
    run_row = rows(page.tables["Training runs"])[0]
    assert run_row["Run"] == "run-ppo" and run_row["Iterations"] == "7" and run_row["Algorithm"] == "ppo"
    assert run_row["Last total change"] == f"{(1.01 - 0.004 * 6 - 1) * 100:+.2f}%"


def test_module_table_and_csv_carry_every_module(inputs, tmp_path):
    files = make_report(inputs["paths"], tmp_path / "out", [inputs["run"]])
    first, second = inputs["evals"]
    page = parse_page(files.html)
    table = page.tables["ppo-final: modules"]
    by_name = {row[0][0]: row for row in table[1:]}
    assert set(by_name) == {m["name"] for m in first["modules"]}
    heading = [text for text, _ in table[0]]
    change = heading.index("Change")
    for module in first["modules"]:
        cell_text, attributes = by_name[module["name"]][change]
        if module["ok"]:
            ratio = module["policy"] / module["default"]
            assert float(attributes["data-sort"]) == pytest.approx(ratio, rel=1e-15)
            assert cell_text == f"{(ratio - 1) * 100:+.2f}%"
        else:
            assert attributes["data-sort"] == "" and cell_text == fmt.MISSING
            assert by_name[module["name"]][2][0] == "failed: policy: CompilerCrash: clang crashed"
    # text_section differs from the module's figure, so it gets a column; text equals it, so it does not
    assert "Δ text_section" in heading and "Δ text" not in heading
    assert 'class="sortable" id="modules-1"' in files.html.read_text()

    with open(files.csv, newline="") as stream:
        records = list(csv.DictReader(stream))
    assert len(records) == len(first["modules"]) + len(second["modules"])
    for record, (label, module) in zip(records, [(e["policy"], m) for e in (first, second) for m in e["modules"]]):
        assert record["policy"] == label
        assert record["ok"] == ("true" if module["ok"] else "false")
        assert record["default"] == str(module["default"])
        assert record["policy_value"] == ("" if module["policy"] is None else str(module["policy"]))
        if module["ok"]:
            assert float(record["ratio"]) == module["policy"] / module["default"]
            assert record["policy_text_section"] == str(module["figures"]["policy_text_section"])
    names = [r["module"] for r in records]
    assert EVIL in names and "'" + FORMULA in names and FORMULA not in names  # a formula is never live


def test_page_is_self_contained_and_escapes_names(inputs, tmp_path):
    files = make_report(inputs["paths"], tmp_path / "out", [inputs["run"]], inputs["search_path"])
    text = files.html.read_text()
    page = parse_page(files.html)
    # Escaped; the only markup added to a name is a line-break opportunity after each slash.
    assert "<script>alert" not in text and "&lt;script&gt;alert(&quot;x&quot;)&lt;/<wbr>script&gt;" in text
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", text), "the page must not load anything"
    assert "Content-Security-Policy" in text
    # every plot file is embedded, byte for byte
    embedded = sorted(base64.b64decode(src.split(",", 1)[1]) for src in page.images)
    assert all(src.startswith("data:image/png;base64,") for src in page.images)
    assert embedded == sorted(path.read_bytes() for path in files.plots)
    assert all(data.startswith(PNG) and len(data) > 1000 for data in embedded)
    assert {path.name for path in files.plots} == {
        "distribution-1.png",
        "distribution-2.png",
        "projects-1.png",
        "projects-2.png",
        "training-1.png",
    }
    markdown = files.markdown.read_text()
    assert "<script>" not in markdown
    assert "&lt;script&gt;" in markdown and "\\|x.o" in markdown


def test_regalloc_report_shows_costs_and_runtime(tmp_path):
    report = regalloc_eval(7)
    path = tmp_path / "regalloc.json"
    path.write_text(json.dumps(report))
    files = make_report([path], tmp_path / "out")
    page = parse_page(files.html)
    headline = rows(page.tables["Headline: policy vs the default heuristic"])[0]
    assert headline["Measurement"] == "weighted regalloc cost" and headline["Default total"].endswith(" cost")
    assert headline["Total change"] == f"{(report['summary']['total_ratio'] - 1) * 100:+.2f}%"

    figures = {r["Figure"]: r for r in rows(page.tables["ppo-eviction: figures, summed over modules"])}
    assert set(figures) == {"spills", "reloads", "copies", "text"}  # cost is the module's own figure
    for name in ("spills", "reloads", "copies"):
        default = sum(m["figures"][f"default_{name}"] for m in report["modules"] if f"default_{name}" in m["figures"])
        policy = sum(m["figures"][f"policy_{name}"] for m in report["modules"] if f"policy_{name}" in m["figures"])
        assert figures[name]["Default"] == f"{default:,.2f}" and figures[name]["Modules"] == "15"
        assert figures[name]["Change"] == f"{(policy / default - 1) * 100:+.2f}%"
    assert figures["text"]["Default"] == f"{sum(1000 + i for i in range(15)):,}"

    runtime = rows(page.tables["ppo-eviction: runtime"])
    assert [(r["Program"], r["Figure"]) for r in runtime] == [
        ("minigzip", "instructions"),
        ("minigzip", "seconds"),
        ("lua-fib", "instructions"),
        ("lua-fib", "seconds"),
        ("yaml-roundtrip", "failed: the two builds printed different output"),  # never a win or a loss
    ]
    assert runtime[4]["Change"] == runtime[4]["Policy"] == "—"
    assert runtime[0]["Default"] == "1,234,567,890"
    assert runtime[0]["Change"] == f"{(1_230_000_000 / 1_234_567_890 - 1) * 100:+.2f}%"
    assert runtime[1]["Policy"] == "0.800 s" and runtime[3]["Change"] == f"{(1.51 / 1.5 - 1) * 100:+.2f}%"
    assert (tmp_path / "out" / "runtime-1.png").read_bytes().startswith(PNG)
    assert "### ppo-eviction: runtime" in files.markdown.read_text()

    modules = {row[0][0]: row for row in page.tables["ppo-eviction: modules"][1:]}
    assert modules["bench/nospill.c"][6][0] == fmt.MISSING  # no ratio over a zero cost
    assert modules["bench/nospill.c"][5][0] == "+0"


def test_training_curves_from_losses_in_any_shape(tmp_path):
    run = load_run(run_folder(tmp_path / "run", 5))
    series = loss_series([*run.iterations, {"iteration": 5, "loss": 0.25, "bc_loss": 0.5}])
    assert series["policy_gradient_loss"][:5] == [1.0 / (i + 1) for i in range(5)]
    assert series["loss"] == [None] * 5 + [0.25] and series["bc_loss"][5] == 0.5
    files = make_report([], tmp_path / "out", [tmp_path / "run"])
    assert [p.name for p in files.plots] == ["training-1.png"]
    assert rows(parse_page(files.html).tables["Training runs"])[0]["Iterations"] == "5"


def test_training_curves_leave_out_panels_without_figures():
    records = [
        {
            "iteration": i,
            "algorithm": "bc",
            "loss": 1.0 / i,
            "accuracy": 0.5,
            "holdout_accuracy": 0.6,
            "mean_reward": None,
            "total_ratio": None,
        }
        for i in (1, 2, 3)
    ]
    panels = training_panels(records)
    assert [(panel.title, list(panel.series)) for panel in panels] == [
        ("losses", ["loss"]),
        ("agreement with the labels", ["training labels", "held-out labels"]),
    ]
    assert step_name(records) == "epoch" and step_name([{**records[0], "algorithm": "ppo"}]) == "iteration"
    assert training_panels([{"iteration": 1}]) == []
    assert training_curves(RunLog(Path("empty"), (), {}), "empty", "training-1.png").png.startswith(PNG)


def test_formatting_for_people():
    assert fmt.change(0.9712) == "-2.88%" and fmt.change(1.0) == "+0.00%" and fmt.change(1.05) == "+5.00%"
    assert fmt.change(None) == fmt.MISSING
    assert fmt.amount(1234567) == "1,234,567" and fmt.amount(1234.5, "cost") == "1,234.50 cost"
    assert fmt.difference(-1234) == "-1,234" and fmt.difference(0.5) == "+0.50"
    assert fmt.csv_text("=HYPERLINK()") == "'=HYPERLINK()" and fmt.csv_text("zlib/a.c") == "zlib/a.c"
    assert fmt.plot_text("$x$") == r"\$x\$"


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "holds one JSON object"),
        ('{"problem": "inlining"}', "missing policy, modules, summary"),
    ],
)
def test_bad_evaluation_files_are_named(tmp_path, content, message):
    path = tmp_path / "bad eval.json"
    path.write_text(content)
    result = mlgo("report", path, "--output", tmp_path / "out")
    assert result.returncode == 2
    assert str(path) in result.stderr and message in result.stderr
    assert not (tmp_path / "out" / "report.html").exists()


def test_bad_fields_and_run_folders_are_named(tmp_path):
    report = size_eval(3, "p")
    report["modules"][4]["default"] = "12 kB"
    path = tmp_path / "e.json"
    path.write_text(json.dumps(report))
    with pytest.raises(ReportInputError, match=re.escape(f"{path}: modules[4] ('zlib/src/file4.c'): default")):
        load_evaluation(path)
    with pytest.raises(ReportInputError, match="no such evaluation file"):
        load_evaluation(tmp_path / "missing.json")

    empty = tmp_path / "run-without-log"
    empty.mkdir()
    result = mlgo("report", "--runs", empty, "--output", tmp_path / "out")
    assert result.returncode == 2 and f"{empty}: no log.jsonl" in result.stderr
    broken = run_folder(tmp_path / "broken", 3)
    log = broken / "log.jsonl"
    log.write_text(log.read_text().replace('"iteration": 1,', '"iteration": 1', 1))
    with pytest.raises(ReportInputError, match=re.escape(f"{log}:2: not a JSON line")):
        load_run(broken)
    (tmp_path / "search.json").write_text('{"modules": [{"name": "a", "default": 5}]}')
    with pytest.raises(ReportInputError, match=r"modules\[0\]: best: expected a number"):
        load_search(tmp_path / "search.json")
    result = mlgo("report", "--output", tmp_path / "out")
    assert result.returncode == 2 and "at least one EVAL.json" in result.stderr


def test_ratio_of_every_module_is_in_the_histogram(inputs, tmp_path):
    """The distribution counts the modules that have a ratio: every ok module with a positive default."""
    evaluation = load_evaluation(inputs["paths"][0])
    rated = [m for m in evaluation.modules if m.ratio is not None]
    assert len(rated) == sum(1 for m in inputs["evals"][0]["modules"] if m["ok"])
    assert all(math.isclose(m.ratio, m.policy / m.default) for m in rated)


_PROBE = """<script>
window.addEventListener("load", function () {
  var table = document.getElementById("modules-1"), heading = table.tHead.rows[0].cells[6];
  heading.click();
  document.body.setAttribute("data-probe", JSON.stringify({
    images: [].map.call(document.images, function (i) { return i.complete && i.naturalWidth > 0; }),
    tables: document.querySelectorAll("table").length, sort: heading.getAttribute("aria-sort"),
    keys: [].map.call(table.tBodies[0].rows, function (r) { return r.cells[6].getAttribute("data-sort"); })}));
});
</script></body>"""


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium package (test set-up)")
def test_page_renders_offline_in_headless_chromium(inputs, tmp_path):
    """Every table and image renders with no network and no console message; a click sorts the module table."""
    files = make_report(inputs["paths"], tmp_path / "out", [inputs["run"]], inputs["search_path"])
    page = files.html.read_text()
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", _PROBE))
    result = subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--virtual-time-budget=5000",
            "--dump-dom",
            probed.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    found = re.search(r'data-probe="([^"]*)"', result.stdout)
    assert found, result.stderr[-2000:]
    probe = json.loads(found.group(1).replace("&quot;", '"'))
    assert probe["images"] == [True] * len(files.plots)
    assert probe["tables"] == page.count("<table")
    assert probe["sort"] == "ascending"
    ratios = [float(key) for key in probe["keys"] if key]
    assert ratios == sorted(ratios) and probe["keys"][-1] == ""  # the failed module sorts last
    assert len(probe["keys"]) == len(inputs["evals"][0]["modules"])


def test_first_line_says_whether_a_learned_policy_beats_the_hand_rule(tmp_path):
    learned, rule = size_eval(3, "runs/ppo/policy"), size_eval(4, "rule:callee_users=2,margin=45")
    default = size_eval(5, "default")
    paths = []
    for name, report in (("learned.json", learned), ("rule.json", rule), ("default.json", default)):
        paths.append(tmp_path / name)
        paths[-1].write_text(json.dumps(report))

    def total(report):
        ok = [m for m in report["modules"] if m["ok"]]
        return sum(m["policy"] for m in ok) / sum(m["default"] for m in ok)

    out = tmp_path / "report"
    assert mlgo("report", *paths, "--output", out).returncode == 0
    beaten = total(learned) < total(rule)
    line = (
        f"runs/ppo/policy {'beats' if beaten else 'does NOT beat'} the built-in policy rule:callee_users=2,margin=45 "
        f"on the {len([m for m in learned['modules'] if m['ok']])} modules both evaluated: "
        f"total {total(learned):.4f} vs {total(rule):.4f} of the default"
    )
    html = (out / "report.html").read_text()
    first = re.search(r"<h1>mlgo report</h1><p class=\"verdict\">([^<]*)</p><p class=\"note\">", html)
    assert first and first.group(1) == line  # one verdict: `default` replays the compiler and is no reference
    assert (out / "report.md").read_text().startswith(f"## mlgo report\n\n**{line}**\n\n")
    assert "verdict" not in mlgo("report", paths[0], paths[2], "--output", tmp_path / "plain").stdout
    assert 'class="verdict"' not in (tmp_path / "plain" / "report.html").read_text()


def test_references_cover_the_modules_both_compiled_and_their_runtime(tmp_path):
    learned, rule = size_eval(3, "runs/ppo/policy"), size_eval(4, "rule:callee_users=2,margin=45")
    for report in (learned, rule):
        for module in report["modules"]:
            module["language"] = "c++" if module["name"].startswith("sqlite/") else "c"
    lost = rule["modules"][2]  # zlib/src/file2.c: compiled under the learned policy, not under the rule
    lost.update(ok=False, policy=None, error="policy: timeout")
    rule["summary"] = summarize(rule["modules"])
    paths = []
    for name, report in (("learned.json", learned), ("rule.json", rule)):
        paths.append(tmp_path / name)
        paths[-1].write_text(json.dumps(report))
    files = make_report(paths, tmp_path / "out")
    page = parse_page(files.html)
    beside = "rule:callee_users=2,margin=45"
    ok = {m["name"]: m for m in rule["modules"] if m["ok"]}

    def change(members):
        return f"{(sum(m['policy'] for m in members) / sum(m['default'] for m in members) - 1) * 100:+.2f}%"

    projects = {r["Project"]: r for r in rows(page.tables["runs/ppo/policy: per project"])}
    zlib = [ok[m["name"]] for m in learned["modules"] if m["name"].startswith("zlib/") and m["name"] in ok]
    assert len(zlib) == 11 and projects["zlib"][f"{beside}: total change"] == change(zlib)
    assert "Linked change" not in projects["zlib"]  # no linked sizes in either: no linked column
    languages = {r["Language"]: r for r in rows(page.tables["runs/ppo/policy: per language"])}
    c_learned = [m for m in learned["modules"] if m["ok"] and m["language"] == "c"]
    c_rule = [ok[m["name"]] for m in c_learned if m["name"] in ok]  # the lost module left out
    assert len(c_rule) == len(c_learned) - 1
    assert languages["c"]["Modules"] == str(len([m for m in learned["modules"] if m["language"] == "c"]))
    assert languages["c"]["Total change"] == change(c_learned)
    assert languages["c"][f"{beside}: total change"] == change(c_rule)
    modules = {r["Module"]: r for r in rows(page.tables["runs/ppo/policy: modules"])}
    assert modules[lost["name"]][f"{beside}: change"] == fmt.MISSING and modules[lost["name"]]["Change"] != fmt.MISSING
    assert modules["sqlite/src/file0.c"][f"{beside}: change"] == change([ok["sqlite/src/file0.c"]])
    with open(files.csv, newline="") as stream:
        assert {record["language"] for record in csv.DictReader(stream)} == {"c", "c++"}

    regalloc, first = regalloc_eval(7), {**regalloc_eval(8), "policy": "first"}
    first["runtime"][0]["policy_instructions"] = 1_200_000_000
    for name, report in (("ppo.json", regalloc), ("first.json", first)):
        (tmp_path / name).write_text(json.dumps(report))
    files = make_report([tmp_path / "ppo.json", tmp_path / "first.json"], tmp_path / "regalloc")
    runtime = rows(parse_page(files.html).tables["ppo-eviction: runtime"])
    assert runtime[0]["first: change"] == f"{(1_200_000_000 / 1_234_567_890 - 1) * 100:+.2f}%"
    assert runtime[3]["first: change"] == f"{(1.51 / 1.5 - 1) * 100:+.2f}%"
    assert "first: change" in files.markdown.read_text()


@pytest.mark.parametrize(
    ("policy", "reference"),
    [("rule", True), ("rule:margin=60", True), ("rule:depth=3", True), ("default", False), ("runs/x/policy", False)],
)
def test_a_reference_is_any_built_in_but_the_replayed_default(tmp_path, policy, reference):
    """Even with a parameter this installation does not know (a newer file), a built-in's evaluation is one."""
    path = tmp_path / "e.json"
    path.write_text(json.dumps(size_eval(1, policy)))
    assert is_reference(load_evaluation(path)) is reference
