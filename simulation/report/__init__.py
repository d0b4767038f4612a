"""Self-contained HTML reports for compliance simulations and policy backtests.

:func:`render_simulation`, :func:`render_comparison` and :func:`render_backtest` turn the
JSON-ready results of ``sqm simulate run`` (alone or ``--baseline``) and ``sqm backtest`` into
one HTML5 document each, and :func:`render_supplier` the data of ``sqm report supplier``:
inline CSS, charts as inline SVG drawn here, no script and nothing fetched, so the file can be
mailed, filed with a committee's papers and opened offline years later. A
Content-Security-Policy forbids scripts and remote loads, a second line of defence behind the
escaping.

Same input, same bytes: mappings are walked in a fixed order and nothing reads the clock, so a
report can be regenerated and compared. Every string from the input is escaped, because supplier
ids and rule titles are typed by people. Money arrives as decimal strings and is shown from
:class:`~decimal.Decimal`; floats only place pixels.

The parts: :mod:`.page` (the HTML shell, styles, input reading and building blocks),
:mod:`.charts` (SVG), :mod:`.simulation_page`, :mod:`.comparison_page` and
:mod:`.backtest_page` (the three reports), :mod:`.supplier_page` (one supplier's page).
"""

from sqm.simulation.report.backtest_page import BACKTEST_FORMAT, render_backtest
from sqm.simulation.report.comparison_page import COMPARISON_FORMAT, render_comparison
from sqm.simulation.report.page import ResultInvalid
from sqm.simulation.report.simulation_page import SIMULATION_FORMAT, render_simulation
from sqm.simulation.report.supplier_page import SUPPLIER_REPORT_FORMAT, render_supplier

__all__ = [
    "BACKTEST_FORMAT",
    "COMPARISON_FORMAT",
    "SIMULATION_FORMAT",
    "SUPPLIER_REPORT_FORMAT",
    "ResultInvalid",
    "render_backtest",
    "render_comparison",
    "render_simulation",
    "render_supplier",
]
