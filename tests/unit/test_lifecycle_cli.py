"""`sqm lifecycle` prints the machine as a Mermaid state diagram."""

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
