"""The HTML reports in a real browser: headless Chromium opens the file and draws every chart.

Needs Debian's Chromium at /usr/bin/chromium (`make chromium` installs it); without it these
tests skip, and the skip reason says how to install it.
"""

from __future__ import annotations

import html
import re
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from sqm.rules import default_pack_dir, load_pack
from sqm.simulation.report import render_backtest, render_simulation, render_supplier
from tests.commands import default_pack_variant
from tests.unit.test_simulation_report import backtest_result, simulation_result
from tests.unit.test_supplier_report import scorecard, supplier_data

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
WINDOW = (1280, 2000)
# Headless as root, with nothing reaching out: this machine's network is closed, and a
# Chromium left to phone home retries connections at every start.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# A blank 1280x2000 page compresses to a few kilobytes; charts, tables and text do not.
SMALLEST_PLAUSIBLE_SCREENSHOT = 40_000


def chromium() -> Path:
    """The browser, or a skip that says how to get it (never a silent pass)."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"headless Chromium not found at {CHROMIUM}: run `make chromium` (as root; it "
            "installs Debian's chromium with apt-get) to run the report browser check"
        )
    return CHROMIUM


def open_in_browser(document: str, work: Path) -> tuple[str, Path]:
    """Load ``document`` from a file:// URL; the DOM Chromium built and a screenshot of it."""
    page, screenshot = work / "report.html", work / "shot.png"
    page.write_text(document, encoding="utf-8")
    command = [
        str(chromium()),
        *FLAGS,
        f"--user-data-dir={work / 'profile'}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        f"--screenshot={screenshot}",
        "--dump-dom",
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, screenshot


# A page of the test's own frames the report and measures, in the browser, every text of
# every chart against its chart's box: the report forbids scripts (its CSP), its frame does
# not. The frame is another file, so Chromium must let files read files.
_MEASURE = """<!DOCTYPE html><html><body>
<iframe id="report" src="{src}" width="{width}" height="{height}"></iframe>
<pre id="clipped">not measured</pre>
<script>
document.getElementById("report").addEventListener("load", () => {{
  const page = document.getElementById("report").contentDocument;
  const out = [];
  let texts = 0;
  for (const svg of page.querySelectorAll("svg")) {{
    const box = svg.getBoundingClientRect();
    for (const text of svg.querySelectorAll("text")) {{
      texts += 1;
      const b = text.getBoundingClientRect();
      if (b.left < box.left - 0.5 || b.right > box.right + 0.5
          || b.top < box.top - 0.5 || b.bottom > box.bottom + 0.5) {{
        out.push(text.textContent);
      }}
    }}
  }}
  document.getElementById("clipped").textContent = [texts, ...out].join("\\n");
}});
</script></body></html>
"""


def clipped_labels(page: Path, work: Path) -> tuple[int, list[str]]:
    """How many chart texts ``page`` has, and those that reach outside their chart."""
    frame = work / "measure.html"
    frame.write_text(
        _MEASURE.format(src=page.as_uri(), width=WINDOW[0], height=WINDOW[1] * 3),
        encoding="utf-8",
    )
    command = [
        str(chromium()), *FLAGS, f"--user-data-dir={work / 'measure-profile'}",
        "--allow-file-access-from-files", "--virtual-time-budget=10000", "--dump-dom",
        frame.as_uri(),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'<pre id="clipped">(.*?)</pre>', done.stdout, re.DOTALL)
    assert found is not None, done.stdout[-2000:]
    count, *clipped = html.unescape(found.group(1)).split("\n")
    assert count.isdigit(), f"the measuring script did not run: {count!r}"
    return int(count), clipped


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's header chunk."""
    header = path.read_bytes()[:24]
    assert header[:8] == PNG_SIGNATURE
    width, height = struct.unpack(">II", header[16:24])
    return width, height


@dataclass(frozen=True)
class Shown:
    """A report as Chromium showed it, with what the sample should make it show."""

    dom: str
    screenshot: Path
    charts: int
    figure: str


@pytest.fixture(
    scope="module",
    params=[
        pytest.param((render_simulation, simulation_result, 6, "1,995,000.00"), id="simulation"),
        pytest.param((render_backtest, backtest_result, 1, "−63,499.50"), id="backtest"),
    ],
)
def shown(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Shown:
    """Each sample report opened once (a browser start costs about two seconds)."""
    render, sample, charts, figure = request.param
    dom, screenshot = open_in_browser(render(sample()), tmp_path_factory.mktemp("browser"))
    return Shown(dom, screenshot, charts, figure)


def test_browser_draws_every_chart_and_table_of_the_report(shown: Shown) -> None:
    """Chromium's DOM holds every SVG chart as an image, the tables and their figures."""
    assert shown.dom.count("<svg") == shown.charts
    assert shown.dom.count('role="img"') == shown.charts
    assert shown.dom.count("<table") >= 2
    assert shown.figure in shown.dom


def test_screenshot_of_the_report_is_a_full_page(shown: Shown) -> None:
    """The screenshot is a PNG of the window's size with far more than a blank page in it."""
    assert shown.screenshot.is_file()
    assert png_size(shown.screenshot) == WINDOW
    assert shown.screenshot.stat().st_size > SMALLEST_PLAUSIBLE_SCREENSHOT


def test_a_real_simulation_run_opens_with_its_charts(tmp_path: Path) -> None:
    """``sqm simulate run --html`` writes a report Chromium draws: states, penalties, rules."""
    chromium()
    page = tmp_path / "run.html"
    ran = subprocess.run(
        [
            sys.executable, "-m", "sqm.server", "simulate", "run", str(default_pack_dir()),
            "--suppliers", "10", "--months", "3", "--seed", "4", "--html", str(page),
        ],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr

    dom, screenshot = open_in_browser(page.read_text(encoding="utf-8"), tmp_path)

    assert dom.count('role="img"') >= 3
    assert "Suppliers by lifecycle state" in dom
    assert "Scorecards closed in each standing" in dom  # standings over time
    assert screenshot.stat().st_size > SMALLEST_PLAUSIBLE_SCREENSHOT
    texts, clipped = clipped_labels(page, tmp_path)
    assert texts > 20
    assert clipped == []  # long rule titles, Chinese ones too, fit the chart


def test_every_rule_title_of_the_default_pack_fits_the_rules_chart(tmp_path: Path) -> None:
    """All the default pack's rules in the chart, their titles as written (Chinese ones take
    two columns a character): none reaches past the chart's left edge.
    """
    pack = load_pack(default_pack_dir())
    result = simulation_result()
    result["rules_fired"] = {rule.id: number for number, rule in enumerate(pack.rules, 1)}
    result["rule_titles"] = {rule.id: rule.title for rule in pack.rules}
    page = tmp_path / "rules.html"
    page.write_text(render_simulation(result), encoding="utf-8")
    texts, clipped = clipped_labels(page, tmp_path)
    assert texts > len(pack.rules)
    assert clipped == []


def test_the_clipping_check_sees_a_label_outside_its_chart(tmp_path: Path) -> None:
    """The measure fails a chart whose label runs past its left edge (it can fail)."""
    chromium()
    page = tmp_path / "clipped.html"
    page.write_text(
        '<!DOCTYPE html><html><body><svg viewBox="0 0 200 50" width="200" height="50">'
        '<text x="10" y="30" text-anchor="end">严重违约立即启动评审</text>'
        '<text x="100" y="30">fits</text></svg></body></html>',
        encoding="utf-8",
    )
    assert clipped_labels(page, tmp_path) == (2, ["严重违约立即启动评审"])


def test_a_real_comparison_opens_with_every_section_and_chinese_titles(tmp_path: Path) -> None:
    """``sqm simulate run NEW --baseline OLD --html``: Chromium draws the chart, every section
    is there, and the default pack's Chinese rule titles are in the page it built.
    """
    chromium()
    candidate = default_pack_variant(
        tmp_path / "candidate", "monitoring.yaml",
        '{fact: major_breaches_30d, op: ">=", value: 3}',
        '{fact: major_breaches_30d, op: ">=", value: 2}',
    )  # fmt: skip
    page = tmp_path / "compare.html"
    ran = subprocess.run(
        [
            sys.executable, "-m", "sqm.server", "simulate", "run", str(candidate),
            "--baseline", str(default_pack_dir()),
            "--suppliers", "20", "--months", "12", "--seed", "2", "--html", str(page),
        ],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr

    dom, screenshot = open_in_browser(page.read_text(encoding="utf-8"), tmp_path)

    for heading in (
        "What changes", "Final states", "Terminations by reason", "Per service category",
        "Per rule", "Suppliers whose fate changes",
    ):  # fmt: skip
        assert f">{heading}</h2>" in dom, heading
    assert dom.count('role="img"') == 1
    assert "严重违约立即启动评审" in dom  # MON-001's title, as the pack spells it
    assert screenshot.stat().st_size > SMALLEST_PLAUSIBLE_SCREENSHOT
    assert clipped_labels(page, tmp_path)[1] == []


def test_a_supplier_page_of_two_years_opens_with_every_section_and_no_clipped_label(
    tmp_path: Path,
) -> None:
    """24 monthly scores against the standings' bands: Chromium draws the chart, the KPIs and
    the timeline, and no period, score or standing title reaches outside the chart.
    """
    data = supplier_data()
    standings = [
        ("excellent", "优秀 (excellent)"),
        ("good", "良好 (good)"),
        ("poor", "较差 (poor)"),
    ]
    data["scorecards"] = [
        scorecard(f"{2027 + month // 12}-{month % 12 + 1:02d}", score, *standings[month % 3])
        for month, score in enumerate((100.0, 82.5, 31.25) * 8)
    ]
    page = tmp_path / "supplier.html"
    page.write_text(render_supplier(data), encoding="utf-8")

    dom, screenshot = open_in_browser(page.read_text(encoding="utf-8"), tmp_path)

    for heading in ("Summary", "Score over time", "KPIs of 2028-12", "Timeline"):
        assert f">{heading}</h2>" in dom, heading
    assert dom.count('role="img"') == 1
    assert "违约服务抵扣 (a service credit)" in dom
    assert screenshot.stat().st_size > SMALLEST_PLAUSIBLE_SCREENSHOT
    texts, clipped = clipped_labels(page, tmp_path)
    assert texts > 24  # a score above every bar, besides the axes and the legend
    assert clipped == []
