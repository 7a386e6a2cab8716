"""The README stays true: its test command is what CI runs, and every CLI command is documented."""

from __future__ import annotations

import re
from pathlib import Path

from behemb_core.cli import build_parser

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def _bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", README, flags=re.S)


def test_readme_test_command_is_what_ci_runs():
    test_cmd = next(line for block in _bash_blocks() for line in block.splitlines() if "pytest" in line)
    ci = (REPO / ".ci" / "run").read_text()
    assert test_cmd.strip() in ci.splitlines(), f"{test_cmd!r} not in .ci/run"


def test_readme_main_command_uses_bundled_data():
    first = _bash_blocks()[0].strip()
    assert first.startswith("python -m pip install -r requirements.txt && ")
    assert (REPO / "data" / "demo" / "online-retail-2011-10-11.csv.gz").is_file()
    assert (REPO / "data" / "demo" / "ATTRIBUTION.md").is_file()


def test_every_cli_command_is_documented():
    parser = build_parser()
    commands = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices
    for name in commands:
        assert f"python -m behemb_core {name}" in README, f"command {name!r} missing from README"


def test_links_to_files_in_the_docs_point_at_files_that_exist():
    """Every relative link and image of the README and docs/*.md names a file of the repository (a rename that
    forgets the docs fails here)."""
    broken = []
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text()):
            if re.match(r"[a-z]+://|#|mailto:", target):
                continue
            path = (doc.parent / target.split("#", 1)[0]).resolve()
            if not path.exists():
                broken.append(f"{doc.name}: {target}")
    assert not broken, broken
