"""Claim/passage sets for the support check (WiCE, SummEdits shapes), item split, metrics."""
from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SPLIT_SEED = 23
VALIDATION_SHARE = 0.3


@dataclass(frozen=True)
class Pair:
    """One labelled claim/passage pair; `group` is the item (article or source page) it
    belongs to, so that a split never puts one article's claims on both sides."""

    claim: str
    passage: str
    supported: bool
    group: str
    label: str


def load_pairs(path: Path) -> list[Pair]:
    """Read a JSONL of `claim` + `evidence` (list of sentences) or `claim` + `document`."""
    out = []
    with Path(path).open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            if "evidence" in row:
                passage = "\n".join(row["evidence"])
                meta = row.get("meta") or {}
                group = str(meta.get("claim_title") or meta.get("id") or n)
            elif "document" in row:
                passage = row["document"]
                group = str(row.get("id", n)).rsplit("_", 1)[0]
            else:
                raise ValueError(f"{path}:{n}: needs 'evidence' or 'document'")
            label = str(row["label"])
            out.append(Pair(row["claim"], passage, label == "supported", group, label))
    return out


def split(pairs: Sequence[Pair], seed: int = SPLIT_SEED,
          share: float = VALIDATION_SHARE) -> tuple[list[Pair], list[Pair]]:
    """(train, validation) by item: a seeded shuffle of the sorted groups."""
    groups = sorted({p.group for p in pairs})
    random.Random(seed).shuffle(groups)
    held = set(groups[:max(1, round(share * len(groups)))])
    return [p for p in pairs if p.group not in held], [p for p in pairs if p.group in held]


def classify(labels: Sequence[bool], predicted: Sequence[bool]) -> dict[str, float]:
    """Balanced accuracy, precision and recall of "supported", counts."""
    labels, predicted = [bool(y) for y in labels], [bool(p) for p in predicted]
    tp = sum(y and p for y, p in zip(labels, predicted))
    fp = sum(p and not y for y, p in zip(labels, predicted))
    fn = sum(y and not p for y, p in zip(labels, predicted))
    tn = sum(not y and not p for y, p in zip(labels, predicted))
    tpr = tp / (tp + fn) if tp + fn else 0.0
    tnr = tn / (tn + fp) if tn + fp else 0.0
    return {"balanced_accuracy": round((tpr + tnr) / 2, 4),
            "precision": round(tp / (tp + fp), 4) if tp + fp else 0.0,
            "recall": round(tpr, 4), "n": len(labels), "positives": tp + fn,
            "predicted_positive": tp + fp}
