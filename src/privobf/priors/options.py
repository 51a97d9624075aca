"""The command-line options every command that runs a model shares for priors."""

from __future__ import annotations

import argparse
from pathlib import Path

from .base import list_providers
from .prior_set import DEFAULT_PROVIDERS, PriorSet


def add_prior_arguments(parser: argparse.ArgumentParser, default: str = "on", help_text: str | None = None) -> None:
    parser.add_argument("--priors", choices=["on", "off"], default=default, help=help_text or (
        f"weight attention maps by person / face / text / plate masks from off-the-shelf detectors (default: {default})"))
    parser.add_argument("--prior-providers", default=",".join(DEFAULT_PROVIDERS), help=(
        "comma-separated prior providers (default: %(default)s; `nudenet` is an opt-in extra)"))


def parse_provider_names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    known = list_providers()
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"unknown prior provider(s) {', '.join(unknown)}; available: {', '.join(known)}")
    if not names:
        raise ValueError("--prior-providers names no provider (use --priors off to run without priors)")
    return names


def prior_set_from_arguments(args: argparse.Namespace, cache: str | Path | None = None) -> PriorSet | None:
    """None when --priors off; raises ValueError for unknown provider names."""
    if getattr(args, "priors", "off") != "on":
        return None
    return PriorSet(parse_provider_names(args.prior_providers), cache=cache)
