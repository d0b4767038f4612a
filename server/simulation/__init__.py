"""Compliance simulation and policy backtesting: what a policy does before it bites.

- :mod:`server.simulation.scenarios`: scenarios, and hypothesis strategies generating them
  (a public API for analysts' own property tests);
- :mod:`server.simulation.runner`: play a scenario under a policy, checking invariants;
- :mod:`server.simulation.check`: ``sqm simulate check``, the search for broken invariants;
- :mod:`server.simulation.impact`: ``sqm simulate run``, many suppliers over months;
- :mod:`server.simulation.backtest`: ``sqm backtest``, recorded history under another pack;
- :mod:`server.simulation.report`: the HTML reports.
"""

from server.simulation.runner import Outcome, run_scenario

__all__ = ["Outcome", "run_scenario"]
