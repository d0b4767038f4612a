"""`sqm lifecycle` prints the machine as a Mermaid state diagram, and with `--actions` the
rule actions' table.
"""

from __future__ import annotations

import pytest

from sqm.domain.model import LifecycleState
from sqm.server.cli.main import main


def test_sqm_lifecycle_prints_a_mermaid_diagram_with_all_six_states(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The diagram is stateDiagram-v2 text naming every lifecycle state."""
    assert main(["lifecycle"]) == 0
    output = capsys.readouterr().out
    assert "stateDiagram-v2" in output
    for state in LifecycleState:
        assert f'state "{state.value}" as {state.value}' in output
    assert "[*] --> candidate" in output


def test_sqm_lifecycle_actions_prints_the_action_table(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`--actions` prints the generated table of every action's effect in every state."""
    assert main(["lifecycle", "--actions"]) == 0
    output = capsys.readouterr().out
    assert output.startswith("## What each rule action does in each state")
    assert "| `terminate` |" in output
