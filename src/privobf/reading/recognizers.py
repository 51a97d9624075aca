"""One registry of small text recognisers, in the style of Presidio's analyzer.

Each recogniser reads one OCR line (with its neighbours, see `ReadingContext`) and returns `Finding`s: a VISPR
text attribute, a fixed confidence per kind of evidence (`confidence.py`) and the character span it covers. It
looks at text only: no images, no OCR. `recognize` runs all of them (or the named ones) and merges what they
found, so a line's words can be hidden by what they say rather than by how they look (issue 18).

A recogniser whose optional package is missing is skipped, and `unavailable_recognizers()` names it with the
pip command that installs it; the others keep working. Register your own with `@register_recognizer("name")`
on a class (or factory) whose instances are called as `recogniser(line, context) -> list[Finding]`.

Merging (`merge_findings`): overlapping findings of one attribute become one, with the highest confidence and
the union of the spans. Where two attributes claim overlapping characters and one is a more specific reading
of the other, the more specific one wins and takes the union of the spans (`SUPERSEDES`): a birth date is
reported as `a24_birth_date`, not also as `a82_date_time`; a complete address line as complete, not also as
partial; an MRZ or ID number, not also as a phone or a date. Names are not merged across attributes: "Name:
John" can be both a full-name field and a first name, and hiding either hides the same words.
"""

from __future__ import annotations

import importlib
from typing import Callable, Iterable, Protocol, runtime_checkable

from .confidence import CONFIDENCE
from .types import Finding, ReadingContext, TextLine

READING_EXTRA_COMMAND = "pip install 'privobf[reading]'"


class RecognizerUnavailable(RuntimeError):
    """A recogniser's package (or model package) is not installed; the message says how to install it."""

    def __init__(self, recognizer: str, requirement: str, detail: str):
        command = f"pip install '{requirement}'"
        super().__init__(
            f"recognizer {recognizer!r} is unavailable ({detail}); install it with: {command} "
            f"(every reading package: {READING_EXTRA_COMMAND})"
        )
        self.recognizer = recognizer
        self.requirement = requirement
        self.detail = detail
        self.command = command


@runtime_checkable
class Recognizer(Protocol):
    """name: registry name (stored in each finding); attributes: the VISPR ids it can report."""

    name: str
    attributes: tuple[str, ...]

    def __call__(self, line: TextLine, context: ReadingContext) -> list[Finding]:
        ...


class BaseRecognizer:
    """Convenience base: subclasses implement `find(text, context)` and build findings with `finding`."""

    name: str = ""
    attributes: tuple[str, ...] = ()

    def __call__(self, line: TextLine, context: ReadingContext) -> list[Finding]:
        return self.find(line.text, context)

    def find(self, text: str, context: ReadingContext) -> list[Finding]:
        raise NotImplementedError

    def finding(self, attribute: str, evidence: str, start: int, end: int) -> Finding:
        """A finding with the fixed confidence of `evidence` (a key of `CONFIDENCE`)."""
        return Finding(attribute, self.name, CONFIDENCE[evidence], start, end)


# name -> (factory, {import name: pip requirement})
_FACTORIES: dict[str, tuple[Callable[[], Recognizer], dict[str, str]]] = {}
_INSTANCES: dict[str, Recognizer] = {}
_UNAVAILABLE: dict[str, RecognizerUnavailable] = {}


def register_recognizer(name: str, *, requires: dict[str, str] | None = None) -> Callable:
    """Register a recogniser class or zero-argument factory under `name`.

    requires: {import name: pip requirement} of the optional packages it needs; each is imported before the
    factory runs, and a missing one makes the recogniser unavailable (named, never fatal). A factory may also
    raise `RecognizerUnavailable` itself (e.g. a model package that is missing).
    """
    needs = dict(requires or {})

    def decorator(factory: Callable[[], Recognizer]) -> Callable[[], Recognizer]:
        if isinstance(factory, type):
            factory.name = name
        _FACTORIES[name] = (factory, needs)
        _INSTANCES.pop(name, None)
        _UNAVAILABLE.pop(name, None)
        return factory

    return decorator


def list_recognizers() -> list[str]:
    """Every registered recogniser, available or not."""
    _load_builtin_recognizers()
    return sorted(_FACTORIES)


def create_recognizer(name: str) -> Recognizer:
    """A new instance of a registered recogniser; raises RecognizerUnavailable if its package is missing."""
    _load_builtin_recognizers()
    if name not in _FACTORIES:
        raise ValueError(f"unknown recognizer {name!r}; available: {', '.join(sorted(_FACTORIES))}")
    factory, needs = _FACTORIES[name]
    for module, requirement in needs.items():
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise RecognizerUnavailable(name, requirement, f"cannot import {module}: {error}") from error
    recognizer = factory()
    if not getattr(recognizer, "name", None):
        recognizer.name = name
    return recognizer


def readable_attributes() -> tuple[str, ...]:
    """Every VISPR attribute some registered recogniser can report (declared by its class: nothing is
    loaded), sorted. The scanner's vocabulary grows by these in evidence fusion (privobf.scanning)."""
    _load_builtin_recognizers()
    return tuple(sorted({attribute for factory, _ in _FACTORIES.values() for attribute in getattr(factory, "attributes", ())}))


def unavailable_recognizers() -> dict[str, str]:
    """{name: why it is unavailable, with the pip command that installs it} for each recogniser that cannot run."""
    for name in list_recognizers():
        _instance(name)
    return {name: str(error) for name, error in sorted(_UNAVAILABLE.items())}


def available_recognizers() -> list[str]:
    return [name for name in list_recognizers() if _instance(name) is not None]


def clear_recognizer_cache() -> None:
    """Forget the shared instances (and which were unavailable): the next call creates them again."""
    _INSTANCES.clear()
    _UNAVAILABLE.clear()


def _instance(name: str) -> Recognizer | None:
    """The shared instance of `name` (created once: the NER model loads once per process), None if unavailable."""
    if name in _INSTANCES:
        return _INSTANCES[name]
    if name in _UNAVAILABLE:
        return None
    try:
        _INSTANCES[name] = create_recognizer(name)
    except RecognizerUnavailable as error:
        _UNAVAILABLE[name] = error
        return None
    return _INSTANCES[name]


def recognize(
    line: TextLine | str, context: ReadingContext | None = None, names: Iterable[str] | None = None
) -> list[Finding]:
    """Run every available recogniser (or the named ones) on one line and merge their findings.

    An unknown name is an error; a known but unavailable one is skipped (see `unavailable_recognizers`).
    Findings come back sorted by start, then attribute.
    """
    if isinstance(line, str):
        line = TextLine(line)
    context = context if context is not None else ReadingContext()
    _load_builtin_recognizers()
    chosen = list_recognizers() if names is None else list(names)
    unknown = [name for name in chosen if name not in _FACTORIES]
    if unknown:
        raise ValueError(f"unknown recognizer(s) {', '.join(unknown)}; available: {', '.join(sorted(_FACTORIES))}")
    if not line.text.strip():
        return []
    findings: list[Finding] = []
    for name in chosen:
        recognizer = _instance(name)
        if recognizer is not None:
            findings.extend(recognizer(line, context))
    return merge_findings(findings)


# winner -> the attributes it absorbs where they overlap (a more specific reading of the same characters)
SUPERSEDES: dict[str, tuple[str, ...]] = {
    "a24_birth_date": ("a82_date_time", "a49_phone"),
    "a82_date_time": ("a49_phone",),  # "08.07.2016" is a valid number somewhere, and a date
    "a74_address_current_complete": ("a75_address_current_partial",),
    "a78_address_home_complete": (
        "a74_address_current_complete", "a75_address_current_partial", "a79_address_home_partial",
    ),
    "a79_address_home_partial": ("a75_address_current_partial",),
    "a90_email": ("a85_username",),
    "a30_credit_card": ("a49_phone",),
    "a31_passport": ("a49_phone", "a82_date_time", "a30_credit_card", "a29_ausweis"),
    "a29_ausweis": ("a49_phone", "a82_date_time", "a30_credit_card"),
    "a32_drivers_license": ("a49_phone", "a82_date_time"),
}


def _merge_same_attribute(findings: list[Finding]) -> list[Finding]:
    merged: list[Finding] = []
    by_attribute: dict[str, list[Finding]] = {}
    for finding in findings:
        by_attribute.setdefault(finding.attribute, []).append(finding)
    for attribute, group in by_attribute.items():
        group.sort(key=lambda f: (f.start, f.end))
        current = [group[0]]
        end = group[0].end
        for finding in group[1:]:
            if finding.start < end:
                current.append(finding)
                end = max(end, finding.end)
            else:
                merged.append(_combine(attribute, current))
                current, end = [finding], finding.end
        merged.append(_combine(attribute, current))
    return merged


def _combine(attribute: str, group: list[Finding], confidence: float | None = None) -> Finding:
    if len(group) == 1 and confidence is None:
        return group[0]
    names = sorted({part for f in group for part in f.recognizer.split("+")})
    return Finding(
        attribute,
        "+".join(names),
        max(f.confidence for f in group) if confidence is None else confidence,
        min(f.start for f in group),
        max(f.end for f in group),
    )


def merge_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Merge overlapping findings of one attribute (highest confidence, union of spans), then let the more
    specific attribute of `SUPERSEDES` absorb the overlapping findings it supersedes (keeping its own
    confidence, taking the union of the spans). Returns the findings sorted by (start, attribute)."""
    current = _merge_same_attribute(list(findings)) if findings else []
    while True:
        changed = False
        for winner in list(current):
            losers = [
                f for f in current
                if f is not winner and f.attribute in SUPERSEDES.get(winner.attribute, ()) and f.overlaps(winner)
            ]
            if losers:
                absorbed = _combine(winner.attribute, [winner, *losers], confidence=winner.confidence)
                current = [f for f in current if f is not winner and not any(f is l for l in losers)] + [absorbed]
                current = _merge_same_attribute(current)
                changed = True
                break
        if not changed:
            break
    return sorted(current, key=lambda f: (f.start, f.attribute, f.end))


def _load_builtin_recognizers() -> None:
    # Registers the built-in recognisers; their modules import no optional package at import time.
    from . import addresses, contact, dates, documents, fields, names  # noqa: F401  (importing registers them)
