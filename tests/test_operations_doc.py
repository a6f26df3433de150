"""docs/operations.md, "Metrics", has one row for every metric the node's registry exposes, with
its type and labels, and no row for a metric that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

from gala.metrics import Metrics

DOC = (Path(__file__).resolve().parent.parent / "docs" / "operations.md").read_text()


def documented_rows() -> dict[str, tuple[str, frozenset[str]]]:
    """Metric name -> (type, label names), from the section's table."""
    section = DOC.split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"`gala_\w+`", cells[0]):
            named = re.sub(r"\([^)]*\)", "", cells[2])  # the values in brackets are not labels
            labels = frozenset(re.findall(r"`(\w+)`", named))
            rows[cells[0].strip("`")] = (cells[1], labels)
    return rows


def exposed() -> dict[str, tuple[str, frozenset[str]]]:
    """Metric name as scraped -> (type, label names), from a fresh registry."""
    metrics = Metrics()
    metrics.watch_viewers(dict)
    families = {}
    for family in metrics.registry.collect():
        name = family.name + ("_total" if family.type == "counter" else "")
        families[name] = family.type
    labels = {}
    for value in vars(metrics).values():
        # prometheus-client keeps a metric's label names in `_labelnames` (no public reader)
        if hasattr(value, "_labelnames") and hasattr(value, "_name"):
            name = value._name + ("_total" if value._type == "counter" else "")
            labels[name] = frozenset(value._labelnames)
    labels["gala_viewers_connected"] = frozenset({"show"})  # read when scraped
    return {name: (kind, labels.get(name, frozenset())) for name, kind in families.items()}


def test_every_exposed_metric_has_its_row_and_every_row_a_metric() -> None:
    rows, metrics = documented_rows(), exposed()
    assert len(metrics) >= 13
    assert sorted(set(metrics) - set(rows)) == [], "metrics missing from docs/operations.md"
    assert sorted(set(rows) - set(metrics)) == [], "rows of docs/operations.md for no metric"


def test_each_row_states_the_metric_type_and_labels() -> None:
    rows = documented_rows()
    for name, (kind, labels) in exposed().items():
        assert rows[name] == (kind, labels), name
