"""Compliance simulation and policy backtesting: what a policy does before it bites.

- :mod:`simulation.scenarios`: scenarios, and hypothesis strategies generating them
  (a public API for analysts' own property tests);
- :mod:`simulation.runner`: play a scenario under a policy, checking invariants;
- :mod:`simulation.check`: ``sqm simulate check``, the search for broken invariants;
- :mod:`simulation.impact`: ``sqm simulate run``, many suppliers over months;
- :mod:`simulation.backtest`: ``sqm backtest``, recorded history under another pack;
- :mod:`simulation.report`: the HTML reports.
"""

from simulation.runner import Outcome, run_scenario

__all__ = ["Outcome", "run_scenario"]
