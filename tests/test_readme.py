"""The README stays true: generated metric table current, links resolve, flags exist."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def test_metric_table_is_current() -> None:
    script = ROOT / "scripts" / "generate_metrics_table.py"
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def _slug(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    heading = heading.strip().lower()
    kept = "".join(c for c in heading
                   if c in " -_" or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # "# comment" lines in code blocks
    return {_slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, re.M)}


def test_slug_matches_github() -> None:
    assert _slug("5. Splitting a large fleet") == "5-splitting-a-large-fleet"
    assert _slug("Alerts, dashboards, Alertmanager") == "alerts-dashboards-alertmanager"


def test_every_relative_link_resolves() -> None:
    docs = [README, *sorted((ROOT / "docs").glob("*.md"))]
    checked = 0
    for doc in docs:
        for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+://", target) or target.startswith("mailto:"):
                continue
            path_part, _, anchor = target.partition("#")
            path = (doc.parent / path_part).resolve() if path_part else doc
            assert path.exists(), f"{doc.name}: link to missing {target}"
            if anchor and path.suffix == ".md":
                assert anchor in _anchors(path), f"{doc.name}: no #{anchor} in {path.name}"
            checked += 1
    assert checked > 10


def test_every_documented_flag_exists() -> None:
    from qsan_exporter import cli, dump
    from qsan_exporter.simulator import cli as simulator_cli

    known: set[str] = set()
    parsers = [cli.build_parser()]
    for add in (dump.add_arguments, simulator_cli.add_arguments):
        parser = argparse.ArgumentParser()
        add(parser)
        parsers.append(parser)
    for parser in parsers:  # the usage line names every option (none is hidden)
        known.update(re.findall(r"(?<![\w-])(--[a-z][a-z.-]*[a-z])", parser.format_usage()))
    text = README.read_text(encoding="utf-8")
    documented = set(re.findall(r"(?<![\w-])(--[a-z][a-z.-]*[a-z])", text))
    # Flags of other programs the README quotes: docker compose, kubectl, the table generator.
    foreign = {"--build", "--replicas", "--write"}
    missing = documented - known - foreign
    assert not missing, f"README documents flags the CLI does not have: {sorted(missing)}"
    assert {"--web.config.file", "--api.max-concurrent-requests", "--shard"} <= documented
