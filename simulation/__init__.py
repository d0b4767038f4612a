"""Compliance simulation and policy backtesting: what a policy does before it bites.

- :mod:`sqm.simulation.scenarios`: scenarios, and hypothesis strategies generating them
  (a public API for analysts' own property tests);
- :mod:`sqm.simulation.runner`: play a scenario under a policy, checking invariants;
- :mod:`sqm.simulation.check`: ``sqm simulate check``, the search for broken invariants;
- :mod:`sqm.simulation.impact`: ``sqm simulate run``, many suppliers over months;
- :mod:`sqm.simulation.backtest`: ``sqm backtest``, recorded history under another pack;
- :mod:`sqm.simulation.report`: the HTML reports.
"""

from sqm.simulation.runner import Outcome, run_scenario

__all__ = ["Outcome", "run_scenario"]
