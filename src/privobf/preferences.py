"""A preferences file a user writes once: what to hide, how, and when to warn.

TOML (Python's own `tomllib`) or YAML (when PyYAML is installed)::

    hide = ["face", "documents", "plates"]   # names, ids or groups; default: everything found
    mode = "blur"                             # solid | blur | pixelate | mask-only
    text_mode = "solid"                       # text stays solid unless you say otherwise
    threshold = 0.5                           # probability from which an attribute counts as shown
    warn_above = 0.6                          # `privobf scan` warns (exit 3) above this privacy score
    profile = "profile07"                     # a VISPR profile, or a profile file (.tsv / .toml)

    [attributes.face]                         # per attribute (or group): threshold and mode
    threshold = 0.3
    mode = "pixelate"

    [sensitivity]                             # your own ratings 1..5: the score uses them (see below)
    face = 5
    addresses = 4

Everything is checked when the file is read, against the VISPR attributes, and every mistake is
reported with the file name and the nearest valid word ("unknown setting 'treshold'; did you mean
'threshold'?"), because a typo in a privacy setting must never silently mean "hide nothing".
"""

from __future__ import annotations

import difflib
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .attributes import UnknownAttributeError, UserProfiles, Vocabulary, vispr_vocabulary, vocabulary_from_ids
from .attributes.profiles import SENSITIVITY_MAX
from .attributes.vocabulary import extension_attributes
from .protection import AttributeChoice, ProtectionPlan, check_mode, resolve_names

TOP_LEVEL_KEYS = (
    "hide", "mode", "text_mode", "strength", "threshold", "mask_threshold", "dilate", "warn_above", "profile",
    "priors", "keep_metadata", "attributes", "sensitivity",
)
ATTRIBUTE_KEYS = ("threshold", "mode")


class PreferencesError(ValueError):
    """A preferences file that cannot be used; the message names the file and the setting."""


@dataclass(frozen=True)
class Preferences:
    """A user's standing choices; every field None / empty means "the command's default"."""

    hide: tuple[str, ...] | None = None  # names as written (resolved against a model's vocabulary later)
    mode: str | None = None
    text_mode: str | None = None
    strength: float | None = None
    threshold: float | None = None
    mask_threshold: float | None = None
    dilate: int | None = None
    warn_above: float | None = None
    profile: str | None = None
    priors: bool | None = None
    keep_metadata: bool | None = None
    attributes: Mapping[str, AttributeChoice] = field(default_factory=dict)  # by name as written
    sensitivity: Mapping[str, float] = field(default_factory=dict)  # name -> 1..5
    source: str = "<defaults>"

    def plan(self, vocabulary: Vocabulary, **overrides: Any) -> ProtectionPlan:
        """The protection plan for a model's vocabulary; keyword `overrides` (from the command line) win."""
        per_attribute: dict[str, AttributeChoice] = {}
        for name, choice in self.attributes.items():
            for attribute_id in _resolve_or_skip(vocabulary, name):
                per_attribute[attribute_id] = choice
        hide = None if self.hide is None else _resolve_all(vocabulary, self.hide)
        if hide == () and overrides.get("hide") is None:
            raise PreferencesError(
                f"{self.source}: hide: none of {', '.join(self.hide)} is found by this model, so "
                "nothing would be hidden; name attributes it finds, or use a model trained on them (docs/recipes.md)")
        settings: dict[str, Any] = {
            "hide": hide,
            "threshold": self.threshold,
            "mode": self.mode or "solid",
            "text_mode": self.text_mode or "solid",
            "strength": self.strength,
            "dilate": self.dilate or 0,
            "overrides": per_attribute,
        }
        settings.update({k: v for k, v in overrides.items() if v is not None})
        return ProtectionPlan(vocabulary, **settings)

    def not_detected(self, vocabulary: Vocabulary) -> list[str]:
        """The names in `hide` (and per-attribute settings) this model has no attribute for: they are skipped,
        and the user should be told so rather than believe them hidden."""
        names = list(self.hide or ()) + list(self.attributes)
        return [name for name in names if not _resolve_or_skip(vocabulary, name)]

    def own_profile(self, vocabulary: Vocabulary) -> UserProfiles | None:
        """A one-profile `UserProfiles` from `[sensitivity]` (unrated attributes count 1), or None."""
        if not self.sensitivity:
            return None
        return profile_from_ratings(self.sensitivity, vocabulary, self.source)


def _resolve_all(vocabulary: Vocabulary, names: tuple[str, ...]) -> tuple[str, ...]:
    """Names that the model's vocabulary lacks entirely are dropped: a VISPR attribute a smaller model
    was not trained on cannot be found by it (the scan notes which). Each attribute once, though two names
    hold it ("face" and "people" both hold the face)."""
    return tuple(dict.fromkeys(attribute_id for name in names for attribute_id in _resolve_or_skip(vocabulary, name)))


def _resolve_or_skip(vocabulary: Vocabulary, name: str) -> tuple[str, ...]:
    try:
        return resolve_names(vocabulary, [name])
    except UnknownAttributeError:
        return ()


def profile_from_ratings(ratings: Mapping[str, float], vocabulary: Vocabulary, source: str) -> UserProfiles:
    """One profile rating each attribute 1..5 (1 = not sensitive, the default for unrated ones)."""
    sensitivity = np.ones((1, len(vocabulary)), dtype=np.float32)
    for name, value in ratings.items():
        for attribute_id in _resolve_or_skip(vocabulary, name):
            sensitivity[0, vocabulary.index(attribute_id)] = value
    if "a0_safe" in vocabulary:
        sensitivity[0, vocabulary.index("a0_safe")] = 0.0
    return UserProfiles(vocabulary, sensitivity, (f"own ({Path(source).name})",))


# ----------------------------------------------------------------------------------------------- reading


def load_preferences(path: str | Path) -> Preferences:
    """Read and validate a preferences file (.toml, .yaml or .yml)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PreferencesError(f"{path}: cannot read preferences ({error.strerror or error})") from None
    except UnicodeDecodeError:
        raise PreferencesError(f"{path}: not a text file (expected TOML or YAML in UTF-8)") from None
    return parse_preferences(text, source=str(path), syntax="yaml" if path.suffix.lower() in (".yaml", ".yml") else "toml")


def parse_preferences(text: str, source: str = "<preferences>", syntax: str = "toml") -> Preferences:
    data = _parse_syntax(text, source, syntax)
    if not isinstance(data, dict):
        raise PreferencesError(f"{source}: expected a table of settings at the top level, got {_kind(data)}")
    check = _Checker(source)
    for key in data:
        check.known_key(key, TOP_LEVEL_KEYS, "setting")
    hide = data.get("hide")
    attributes = data.get("attributes", {})
    sensitivity = data.get("sensitivity", {})
    return Preferences(
        hide=None if hide is None else check.attribute_names("hide", hide),
        mode=check.mode("mode", data.get("mode")),
        text_mode=check.mode("text_mode", data.get("text_mode"), allow_mask_only=False),
        strength=check.number("strength", data.get("strength"), low=0.0, high=1.0, low_open=True),
        threshold=check.number("threshold", data.get("threshold"), low=0.0, high=1.0),
        mask_threshold=check.number("mask_threshold", data.get("mask_threshold"), low=0.0, high=1.0),
        dilate=check.integer("dilate", data.get("dilate")),
        warn_above=check.number("warn_above", data.get("warn_above"), low=0.0, high=1.0),
        profile=check.text("profile", data.get("profile")),
        priors=check.boolean("priors", data.get("priors")),
        keep_metadata=check.boolean("keep_metadata", data.get("keep_metadata")),
        attributes=check.attribute_table(attributes),
        sensitivity=check.sensitivity_table(sensitivity),
        source=source,
    )


def _parse_syntax(text: str, source: str, syntax: str) -> Any:
    if syntax == "yaml":
        try:
            import yaml
        except ImportError:
            raise PreferencesError(f"{source}: YAML needs PyYAML (pip install pyyaml); or write the file as TOML") from None
        try:
            return yaml.safe_load(text) or {}
        except yaml.YAMLError as error:
            raise PreferencesError(f"{source}: not valid YAML: {' '.join(str(error).split())}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PreferencesError(f"{source}: not valid TOML: {error}") from None


def _kind(value: Any) -> str:
    names = {bool: "true/false", int: "a whole number", float: "a number", str: "text", list: "a list", dict: "a table"}
    return names.get(type(value), type(value).__name__)


class _Checker:
    """Validates one file's values; every message starts with the file and the setting."""

    def __init__(self, source: str):
        self.source = source
        self.vocabulary = vocabulary_from_ids(vispr_vocabulary().ids + [a.id for a in extension_attributes()], "VISPR")

    def fail(self, setting: str, problem: str) -> PreferencesError:
        return PreferencesError(f"{self.source}: {setting}: {problem}")

    def known_key(self, key: Any, known: tuple[str, ...], what: str, where: str = "") -> None:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(known)})"
            raise PreferencesError(f"{self.source}: {where}unknown {what} {key!r}{hint}")

    def attribute_name(self, setting: str, name: Any) -> str:
        if not isinstance(name, str) or not name.strip():
            raise self.fail(setting, f"expected an attribute name, got {_kind(name)} {name!r}")
        try:
            self.vocabulary.resolve(name)
        except UnknownAttributeError as error:
            message = str(error).replace(" in vocabulary 'VISPR'", "")
            raise self.fail(setting, message) from None
        return name

    def attribute_names(self, setting: str, value: Any) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            raise self.fail(setting, f"expected a list of attribute names, got {_kind(value)}")
        if not items:  # `--hide` left out hides everything found; an empty list must not quietly hide nothing
            raise self.fail(setting, "an empty list would hide nothing; leave the setting out to hide everything "
                                     "found, or list what to hide (face, text, plates, ...)")
        return tuple(self.attribute_name(setting, item) for item in items)

    def mode(self, setting: str, value: Any, allow_mask_only: bool = True) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(setting, f"expected a mode name, got {_kind(value)} {value!r}")
        try:
            return check_mode(value, allow_mask_only=allow_mask_only)
        except ValueError as error:
            raise self.fail(setting, str(error)) from None

    def number(self, setting: str, value: Any, low: float, high: float | None = None, low_open: bool = False) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(setting, f"expected a number, got {_kind(value)} {value!r}")
        too_low = value <= low if low_open else value < low
        if too_low or (high is not None and value > high):
            bounds = f"above {low}" if high is None else f"from {low} to {high}"
            raise self.fail(setting, f"expected a number {bounds}, got {value}")
        return float(value)

    def integer(self, setting: str, value: Any, high: int = 1000) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
            raise self.fail(setting, f"expected a whole number of pixels from 0 to {high}, got {_kind(value)} {value!r}")
        return int(value)

    def boolean(self, setting: str, value: Any) -> bool | None:
        if value is None or isinstance(value, bool):
            return value
        raise self.fail(setting, f"expected true or false, got {_kind(value)} {value!r}")

    def text(self, setting: str, value: Any) -> str | None:
        if value is None or (isinstance(value, str) and value.strip()):
            return value
        raise self.fail(setting, f"expected text, got {_kind(value)} {value!r}")

    def attribute_table(self, value: Any) -> dict[str, AttributeChoice]:
        if not isinstance(value, dict):
            raise self.fail("attributes", f"expected a table of attribute names, got {_kind(value)}")
        choices = {}
        for name, entry in value.items():
            setting = f"attributes.{name}"
            self.attribute_name("attributes", name)
            if not isinstance(entry, dict):
                raise self.fail(setting, f"expected a table with threshold and/or mode, got {_kind(entry)}")
            for key in entry:
                self.known_key(key, ATTRIBUTE_KEYS, "setting", where=f"{setting}: ")
            choices[name] = AttributeChoice(
                threshold=self.number(f"{setting}.threshold", entry.get("threshold"), low=0.0, high=1.0),
                mode=self.mode(f"{setting}.mode", entry.get("mode"), allow_mask_only=False),
            )
        return choices

    def sensitivity_table(self, value: Any) -> dict[str, float]:
        if not isinstance(value, dict):
            raise self.fail("sensitivity", f"expected a table of attribute = rating (1..5), got {_kind(value)}")
        ratings = {}
        for name, rating in value.items():
            self.attribute_name("sensitivity", name)
            ratings[name] = self.number(f"sensitivity.{name}", rating, low=1.0, high=SENSITIVITY_MAX)
        return ratings
