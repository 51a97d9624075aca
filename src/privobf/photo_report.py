"""What a run tells its user: one JSON report per photo, and a summary at the end of a batch.

The per-photo report is everything needed to audit a result later without the model: the score,
every attribute's probability, what was hidden and how (mode, threshold, share of the photo), what
happened to the metadata, and which model and prior detectors (with versions) produced it. The
summary is aggregated as the batch goes, so it costs the same memory for ten photos or a million.
"""

from __future__ import annotations

import heapq
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .protection import Decision, ProtectionPlan
from .terminal import printable
from .report import PrivacyReport

REPORT_FORMAT = "privobf-photo-report/1"


def photo_report(
    source: Path,
    report: PrivacyReport,
    *,
    plan: ProtectionPlan | None = None,
    decisions: list[Decision] | None = None,
    output: Path | None = None,
    metadata: dict[str, Any] | None = None,
    warn_above: float | None = None,
    seconds: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The JSON-ready report of one photo (no maps: those are in the heat-map preview)."""
    summary = report.to_dict()
    return {
        "format": REPORT_FORMAT,
        "file": str(source),
        "output": None if output is None else str(output),
        "privacy_score": summary.pop("privacy_score"),
        "above_warning": None if warn_above is None else report.privacy_score > warn_above,
        **summary,
        "hidden": None if decisions is None else [d.to_dict() for d in decisions],
        "hidden_regions": None if decisions is None else report.hidden_regions([d.attribute for d in decisions]),
        "plan": None if plan is None else plan.describe(),
        "metadata": metadata,
        "seconds": {k: round(v, 4) for k, v in (seconds or {}).items()},
        "privobf_version": __version__,
    }


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


@dataclass
class BatchSummary:
    """Counts and the highest-scoring photos of a batch, aggregated in constant memory (failures are
    kept by name: each must be reported)."""

    warn_above: float | None = None
    top: int = 10
    done: int = 0
    skipped: int = 0
    earlier_outputs: int = 0  # files privobf wrote, found in a folder or by a glob and so not read as inputs
    failed: list[str] = field(default_factory=list)
    above_warning: int = 0
    score_total: float = 0.0
    hidden: Counter = field(default_factory=Counter)
    found: Counter = field(default_factory=Counter)
    _highest: list[tuple[float, int, str, str]] = field(default_factory=list)
    _order: int = 0

    def add(self, source: Path, privacy_score: float, present: list[str], decisions: list[Decision] | None) -> None:
        """One finished photo: its score, the attributes found, and what was hidden (None: a scan)."""
        self.done += 1
        self.score_total += privacy_score
        self.found.update(present)
        if decisions:
            self.hidden.update(d.attribute for d in decisions)
        if self.warn_above is not None and privacy_score > self.warn_above:
            self.above_warning += 1
        shown = ", ".join(d.attribute for d in decisions) if decisions is not None else ", ".join(present)
        entry = (privacy_score, -self._order, str(source), shown or "-")
        self._order += 1
        if len(self._highest) < self.top:
            heapq.heappush(self._highest, entry)
        else:
            heapq.heappushpop(self._highest, entry)

    def to_dict(self) -> dict[str, Any]:
        return {
            "done": self.done,
            "skipped_finished": self.skipped,
            "earlier_outputs_not_read": self.earlier_outputs,
            "failed": len(self.failed),
            "failed_files": list(self.failed),
            "mean_privacy_score": round(self.score_total / self.done, 4) if self.done else None,
            "above_warning": self.above_warning if self.warn_above is not None else None,
            "warn_above": self.warn_above,
            "attributes_found": dict(self.found.most_common()),
            "attributes_hidden": dict(self.hidden.most_common()),
            "highest_scores": [
                {"file": file, "privacy_score": round(score, 4), "attributes": shown}
                for score, _, file, shown in sorted(self._highest, reverse=True)
            ],
        }

    def table(self, hiding: bool) -> str:
        """A plain-text table for a person reading a terminal."""
        column = "hidden" if hiding else "found"
        rows = sorted(self._highest, reverse=True)
        lines = [f"{'score':>6}  {'file':<48}  {column}"]
        lines += [f"{score:6.2f}  {_clip(printable(file), 48):<48}  {shown}" for score, _, file, shown in rows]
        total = f"{self.done} done"
        if self.skipped:
            total += f", {self.skipped} already finished (--resume)"
        if self.earlier_outputs:
            total += f", {self.earlier_outputs} files privobf wrote earlier not read as inputs"
        total += f", {len(self.failed)} failed"
        if self.done:
            total += f"; mean score {self.score_total / self.done:.2f}"
        if self.warn_above is not None:
            total += f"; {self.above_warning} above {self.warn_above:.2f}"
        counted = self.hidden if hiding else self.found
        if counted:
            total += "\n" + column + ": " + ", ".join(f"{a} x{n}" for a, n in counted.most_common(8))
        heading = f"highest scores ({len(rows)} of {self.done}):" if self.done > len(rows) else "photos:"
        body = "\n".join(lines) if rows else "(no photo finished)"
        failed = "".join(f"\nfailed: {printable(name)}" for name in self.failed[:20])
        if len(self.failed) > 20:
            failed += f"\n... and {len(self.failed) - 20} more failures"
        return f"{heading}\n{body}\n{total}{failed}"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1):]
