"""Pure table builders for display: reshape what the library returns, compute nothing new."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<$:])")


def md(text: object) -> str:
    """Escape untrusted text (item names, file names) for ``st.markdown`` and friends: no markup, no links."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def drops_table(summary: dict[str, Any]) -> pd.DataFrame:
    """Dropped rows/events by reason, then notes (changes that removed nothing)."""
    rows = [{"reason": k, "rows": v, "kind": "dropped"} for k, v in summary.get("dropped", {}).items()]
    rows += [{"reason": k, "rows": v, "kind": "note"} for k, v in summary.get("notes", {}).items()]
    return pd.DataFrame(rows, columns=["reason", "rows", "kind"])


def length_histogram(summary: dict[str, Any]) -> pd.DataFrame:
    """Session-length histogram bins as labelled rows (``[a, b)``, last bin closed)."""
    hist = summary["session_length"]["histogram"]
    edges, counts = hist["edges"], hist["counts"]
    labels = []
    for i in range(len(counts)):
        a, b = edges[i], edges[i + 1]
        last = i == len(counts) - 1
        labels.append(str(a) if b - a == 1 and not last else f"{a}–{b if last else b - 1}")
    return pd.DataFrame({"length": labels, "sessions": counts})


def evaluation_table(evaluation: dict[str, Any], k: int = 10) -> pd.DataFrame:
    """HR@k / NDCG@k (with 95 % intervals) of the method and both baselines, from a manifest's ``evaluation``."""
    blocks = [(evaluation["method"].get("name", "method"), evaluation["method"])]
    names = {"most_popular": "most-popular", "item_knn": "item-kNN"}
    for key, label in names.items():
        if key in evaluation.get("baselines", {}):
            blocks.append((label, evaluation["baselines"][key]))
    rows = []
    for label, block in blocks:
        ci = block.get("ci95", {})
        row = {"model": label}
        for metric in (f"hr@{k}", f"ndcg@{k}"):
            row[metric.upper()] = block.get(metric)
            lo_hi = ci.get(metric)
            row[f"{metric.upper()} 95% CI"] = f"{lo_hi[0]:.3f}–{lo_hi[1]:.3f}" if lo_hi else ""
        rows.append(row)
    return pd.DataFrame(rows)


def neighbour_table(rows: list[dict[str, Any]], catalogue: pd.DataFrame) -> pd.DataFrame:
    """``item_neighbors`` rows with popularity (training events) from the version's item stats."""
    df = pd.DataFrame(rows, columns=["rank", "item_id", "name", "score"])
    pop = catalogue.set_index("item_id")["events"]
    df["popularity"] = df["item_id"].map(pop)
    return df.rename(columns={"score": "similarity"})[["rank", "item_id", "name", "similarity", "popularity"]]


def evidence_table(explained: dict[str, Any]) -> pd.DataFrame:
    """One row per neighbour with its direct evidence from the sessions."""
    rows = [
        {
            "rank": r["rank"], "item_id": r["item_id"], "name": r.get("name", ""), "similarity": r["score"],
            "co-occurrences": r["cooccurrences"], "sessions together": r["sessions_together"], "PPMI": r["ppmi"],
            "direct support": not r["no_direct_support"],
        }
        for r in explained["neighbors"]
    ]
    return pd.DataFrame(rows)


def example_lines(example: dict[str, Any]) -> str:
    """A plain-text rendering of an example session stretch; the pair's items are marked with ▶."""
    lines = [f"session {example['session_id']} ({example['length']} items), from position "
             f"{example['from_position'] + 1}:"]
    for item in example["items"]:
        mark = "▶" if item["is_pair"] else " "
        name = f"  {item['name']}" if item.get("name") else ""
        lines.append(f" {mark} {item['item_id']}{name}")
    return "\n".join(lines)
