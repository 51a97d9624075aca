"""The command-line options every command that runs a model shares for priors."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from .base import list_providers, provider_kind
from .prior_set import DEFAULT_PROVIDERS, PriorSet, detection_only

if TYPE_CHECKING:
    from ..attributes import Vocabulary


def add_prior_arguments(parser: argparse.ArgumentParser, default: str = "on", help_text: str | None = None) -> None:
    parser.add_argument("--priors", choices=["on", "off"], default=default, help=help_text or (
        f"weight attention maps by person / face / text / plate masks from off-the-shelf detectors (default: {default})"))
    parser.add_argument("--prior-providers", default=",".join(DEFAULT_PROVIDERS), help=(
        "comma-separated prior providers (default: %(default)s; `nudenet` is an opt-in extra); with --hide, "
        "only those the hidden attributes need run"))
    parser.add_argument("--fusion", choices=["evidence", "paper"], default="evidence", help=(
        "evidence (default): what the detectors find decides with the model, and masks take the detected shapes "
        "at full resolution; paper: PrivObfNet's way, detectors only weight the model's maps (for reproduction "
        "and ablation)"))


def parse_provider_names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    known = list_providers()
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"unknown prior provider(s) {', '.join(unknown)}; available: {', '.join(known)}")
    if not names:
        raise ValueError("--prior-providers names no provider (use --priors off to run without priors)")
    return names


def prior_set_from_arguments(
    args: argparse.Namespace,
    cache: str | Path | None = None,
    hide: Sequence[str] | None = None,
    vocabulary: "Vocabulary | None" = None,
) -> PriorSet | None:
    """None when --priors off; raises ValueError for unknown provider names.

    With evidence fusion and a plan that names what to hide (`hide`, ids of `vocabulary`), only the
    providers those attributes need run (`privobf.evidence.links`): `--hide face` runs the face detector
    and the person segmenter (the human prior), not OCR. The set records which ran for what."""
    if getattr(args, "priors", "off") != "on":
        return None
    names = parse_provider_names(args.prior_providers)
    if getattr(args, "fusion", "evidence") != "evidence":
        return PriorSet(names, cache=cache, options=detection_only(names))
    if hide is None or vocabulary is None:
        return PriorSet(names, cache=cache)
    from ..evidence.links import READING, linked_kinds, providers_for

    reasons = providers_for(hide, vocabulary, {name: provider_kind(name) for name in names})
    evidence = {kind for attribute_id in hide for kind in linked_kinds(vocabulary[attribute_id])}
    # A text provider that can read reads only for a plan that hides something the words say.
    options = detection_only(list(reasons)) if READING not in evidence else {}
    return PriorSet([name for name in names if name in reasons], cache=cache, reasons=reasons, evidence_kinds=evidence,
                    options=options)
