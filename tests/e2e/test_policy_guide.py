"""End to end: every recipe of docs/policy-guide.md runs as written, so the guide cannot rot.

The guide marks each recipe with ``<!-- recipe: NAME [gap] [server] [passes-today] -->``
and each of its fenced blocks with what it is: ``<!-- edit: FILE -->`` before a ``diff``
block (lines starting ``-`` are removed, ``+`` added, a space kept; only ``+`` lines make a
new file), ``<!-- file: NAME -->`` likewise for a new file beside the pack,
``<!-- mistake: FILE -->`` before a ``diff`` block of a mistake made in the changed pack just
for the commands up to the next expect (to show what lint says of it), then undone,
``<!-- run -->`` before a ``sh`` block of ``sqm`` commands (a comment with ``fails`` means
exit 1, otherwise exit 0), ``<!-- expect -->`` before a ``text`` block of lines the
commands since the last expect must print. Each recipe is applied to a fresh copy of the
default pack, ``my-pack``, beside ``rules/packs/telecom-default``, and its commands run from
there, as a policy team would run them.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import attrs
import pytest

from sqm.rules import default_pack_dir
from tests.e2e.server_process import ServerProcess

pytestmark = pytest.mark.e2e

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "policy-guide.md"
DEFAULT = Path("rules", "packs", "telecom-default")
MINE = "my-pack"
RECIPE = re.compile(r"^<!-- recipe: (?P<name>[a-z0-9-]+)(?P<flags>(?: [a-z-]+)*) -->$", re.M)
BLOCK = re.compile(
    r"^<!-- (?P<marker>[^>]*?) -->\n```(?P<lang>\w*)\n(?P<body>.*?)^```$", re.M | re.S
)
FENCE = re.compile(r"^```\w+$", re.M)


@attrs.frozen
class Edit:
    """Replace ``old`` by ``new`` in ``file`` of the pack (``old`` empty: a new file)."""

    file: str
    old: str
    new: str


@attrs.frozen
class Command:
    """One ``sqm`` command line and the exit status it must have."""

    args: tuple[str, ...]
    fails: bool


@attrs.frozen
class Step:
    """Mistakes to make for a while, commands to run in order, then lines their output must
    hold; the mistakes are undone after the commands.
    """

    commands: tuple[Command, ...]
    expected: tuple[str, ...]
    mistakes: tuple[Edit, ...] = ()


@attrs.frozen
class Recipe:
    """One recipe: its name, flags (gap, server, passes-today), edits and steps."""

    name: str
    flags: frozenset[str]
    edits: tuple[Edit, ...]
    steps: tuple[Step, ...]

    @property
    def test_files(self) -> tuple[str, ...]:
        """The test files the recipe adds, relative to the pack."""
        return tuple(e.file for e in self.edits if e.file.startswith("tests/"))


def parse_diff(file: str, body: str) -> Edit:
    """The edit a ``diff`` block shows: ``-`` and space lines before, ``+`` and space after."""
    old: list[str] = []
    new: list[str] = []
    for number, line in enumerate(body.splitlines(), 1):
        sign, text = line[:1], line[1:]
        if sign not in {"-", "+", " "}:
            raise ValueError(f"edit of {file}, line {number}: starts with neither -, + nor a space")
        if sign != "+":
            old.append(text)
        if sign != "-":
            new.append(text)
    return Edit(file, "".join(f"{t}\n" for t in old), "".join(f"{t}\n" for t in new))


def parse_commands(body: str) -> tuple[Command, ...]:
    """The ``sqm`` commands of a ``sh`` block; anything else there is an error."""
    commands = []
    for line in body.splitlines():
        words, _, comment = line.partition("  # ")
        args = shlex.split(words)
        if not args:
            continue
        if args[0] != "sqm":
            raise ValueError(f"a command of the guide is not an sqm command: {line!r}")
        commands.append(Command(tuple(args[1:]), "fails" in comment))
    return tuple(commands)


def parse_recipe(name: str, flags: frozenset[str], text: str) -> Recipe:
    """A recipe from its section of the guide; every fenced block in it must be marked."""
    edits: list[Edit] = []
    steps: list[Step] = []
    pending: list[Command] = []
    mistakes: list[Edit] = []
    blocks = list(BLOCK.finditer(text))
    assert len(blocks) == len(FENCE.findall(text)), f"{name}: a fenced block has no marker"
    for block in blocks:
        marker, lang, body = block["marker"], block["lang"], block["body"]
        if marker.startswith("edit: ") and lang == "diff":
            edits.append(parse_diff(marker.removeprefix("edit: "), body))
        elif marker.startswith("file: ") and lang == "diff":
            edits.append(parse_diff(f"../{marker.removeprefix('file: ')}", body))
        elif marker.startswith("mistake: ") and lang == "diff":
            assert not pending, f"{name}: a mistake among commands: put it before them"
            mistakes.append(parse_diff(marker.removeprefix("mistake: "), body))
        elif marker == "run" and lang == "sh":
            pending.extend(parse_commands(body))
        elif marker == "expect" and lang == "text":
            assert pending, f"{name}: an expect block with no commands before it"
            lines = tuple(line for line in body.splitlines() if line.strip())
            steps.append(Step(tuple(pending), lines, tuple(mistakes)))
            pending, mistakes = [], []
        else:
            raise AssertionError(f"{name}: marker {marker!r} does not go with a {lang!r} block")
    assert not pending, f"{name}: commands with no expect block after them"
    assert not mistakes, f"{name}: a mistake with no commands and expect block after it"
    return Recipe(name, flags, tuple(edits), tuple(steps))


def guide_recipes() -> list[Recipe]:
    """Every recipe of the guide, in order."""
    text = GUIDE.read_text(encoding="utf-8")
    heads = list(RECIPE.finditer(text))
    ends = [h.start() for h in heads[1:]] + [len(text)]
    return [
        parse_recipe(h["name"], frozenset(h["flags"].split()), text[h.end() : end])
        for h, end in zip(heads, ends, strict=True)
    ]


RECIPES = guide_recipes()


def apply(pack: Path, edit: Edit) -> str | None:
    """Make ``edit`` in ``pack``: the lines to change must occur exactly once. Returns the
    file's text before (None for a new file).
    """
    path = pack / edit.file
    if not edit.old:
        assert not path.exists(), f"{edit.file} exists: a new file's edit would overwrite it"
        path.write_text(edit.new, encoding="utf-8")
        return None
    text = path.read_text(encoding="utf-8")
    found = text.count(edit.old)
    assert found == 1, f"the lines to change occur {found} times in {edit.file}, not once"
    path.write_text(text.replace(edit.old, edit.new), encoding="utf-8")
    return text


@contextlib.contextmanager
def mistaken(pack: Path, mistakes: tuple[Edit, ...]) -> Iterator[None]:
    """``pack`` with ``mistakes`` made, undone on leaving (in reverse order)."""
    before = [(m.file, apply(pack, m)) for m in mistakes]
    try:
        yield
    finally:
        for file, text in reversed(before):
            if text is None:
                (pack / file).unlink()
            else:
                (pack / file).write_text(text, encoding="utf-8")


def run(
    where: Path, args: tuple[str, ...], env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``sqm ARGS`` in ``where``, as a person would there."""
    return subprocess.run(
        [sys.executable, "-m", "sqm.server", *args],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A folder with the default pack at its usual place and a copy of it as ``my-pack``."""
    shutil.copytree(default_pack_dir(), tmp_path / DEFAULT)
    shutil.copytree(default_pack_dir(), tmp_path / MINE)
    return tmp_path


@pytest.fixture
def server_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """For a ``server`` recipe, a running four-eyes server named by ``SQM_SERVER``."""
    recipe: Recipe = request.getfixturevalue("recipe")
    if "server" not in recipe.flags:
        yield {}
        return
    server = ServerProcess(
        tmp_path / "sqm.sqlite3", "--tick-seconds", "0", "--policy-approvals", "2"
    ).start()
    try:
        yield {"SQM_SERVER": server.address}
    finally:
        server.kill()


def test_the_guide_has_at_least_ten_real_recipes_and_names_its_gaps() -> None:
    """Ten or more recipes work today; the ones that cannot would be marked as gaps (none
    is now: a fixed-amount penalty and an escalation are real recipes).
    """
    real = [r.name for r in RECIPES if "gap" not in r.flags]
    assert len(real) >= 10, real
    assert len({r.name for r in RECIPES}) == len(RECIPES), "two recipes share a name"
    assert {r.name for r in RECIPES if "gap" in r.flags} == set()
    assert {"fixed-amount", "escalation"} <= set(real)


def test_every_link_of_the_guide_to_a_section_finds_its_heading() -> None:
    """A recipe renamed keeps the guide's list of recipes pointing at it (GitHub's anchors)."""
    text = GUIDE.read_text(encoding="utf-8")
    anchors = {
        re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        for heading in re.findall(r"^#+ (.+)$", text, re.M)
    }
    links = re.findall(r"\]\(#([^)]+)\)", text)
    assert len(links) == len(RECIPES)
    assert [link for link in links if link not in anchors] == []


@pytest.mark.parametrize("recipe", RECIPES, ids=[r.name for r in RECIPES])
def test_the_recipe_runs_as_written(
    recipe: Recipe, workdir: Path, server_env: dict[str, str]
) -> None:
    """Each edit applies once, each command exits and prints as the guide says."""
    for edit in recipe.edits:
        apply(workdir / MINE, edit)
    for step in recipe.steps:
        output = []
        with mistaken(workdir / MINE, step.mistakes):
            for command in step.commands:
                done = run(workdir, command.args, server_env)
                shown = f"$ sqm {shlex.join(command.args)}\n{done.stdout}{done.stderr}"
                assert done.returncode == (1 if command.fails else 0), shown
                output.append(shown)
        printed = "\n".join(output)
        for line in step.expected:
            assert line in printed, f"{line!r} not printed by:\n{printed}"


@pytest.mark.parametrize("recipe", RECIPES, ids=[r.name for r in RECIPES])
def test_the_recipe_changes_what_it_says(recipe: Recipe, workdir: Path) -> None:
    """A real recipe lints clean and its cases pass on it, not today; a gap's edit is refused."""
    for edit in recipe.edits:
        apply(workdir / MINE, edit)
    lint = run(workdir, ("policy", "lint", MINE))
    if "gap" in recipe.flags:
        assert lint.returncode == 1, lint.stdout
        assert "the pack does not load" in lint.stdout
        return
    assert lint.returncode == 0, lint.stdout
    assert f"{MINE}: 0 error(s), 0 warning(s)" in lint.stdout
    for file in recipe.test_files:
        mine = run(workdir, ("policy", "test", MINE, f"{MINE}/{file}"))
        assert mine.returncode == 0, mine.stdout + mine.stderr
        today = run(workdir, ("policy", "test", str(DEFAULT), f"{MINE}/{file}"))
        assert today.returncode == (0 if "passes-today" in recipe.flags else 1), today.stdout
