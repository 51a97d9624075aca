"""Preferences files, friendly attribute groups and the protection plan."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privobf.attributes import UnknownAttributeError, vispr_vocabulary, vocabulary_from_ids
from privobf.attributes.groups import FRIENDLY_GROUPS, is_text_attribute
from privobf.preferences import TOP_LEVEL_KEYS, Preferences, PreferencesError, load_preferences, parse_preferences
from privobf.protection import ProtectionPlan
from privobf.report import PrivacyReport


def test_friendly_groups_mean_what_people_think():
    vocabulary = vispr_vocabulary()
    assert vocabulary.resolve("face") == ["a9_face_complete", "a10_face_partial"]
    assert vocabulary.resolve("plates") == ["a103_license_plate_complete", "a104_license_plate_partial"]
    text = set(vocabulary.resolve("text"))
    assert {"a19_name_full", "a74_address_current_complete", "a31_passport", "a103_license_plate_complete"} <= text
    assert not text & set(vocabulary.resolve("face"))
    assert set(vocabulary.resolve("documents")) <= text  # documents are written: solid by default
    for name in FRIENDLY_GROUPS:
        assert vocabulary.resolve(name), name
    with pytest.raises(UnknownAttributeError, match="did you mean 'plates'"):
        vocabulary.resolve("pltes")


def test_every_misspelt_setting_is_named_with_the_nearest_word():
    cases = {
        "treshold = 0.5": "unknown setting 'treshold'; did you mean 'threshold'?",
        'hide = ["facee"]': "hide: unknown attribute 'facee'; did you mean 'face'?",
        'mode = "blurr"': "mode: unknown mode 'blurr'; did you mean 'blur'?",
        'text_mode = "mask-only"': "text_mode: unknown mode 'mask-only'",
        'threshold = "0.5"': "threshold: expected a number, got text '0.5'",
        "threshold = 1.5": "threshold: expected a number from 0.0 to 1.0, got 1.5",
        "warn_above = -0.1": "warn_above: expected a number from 0.0 to 1.0",
        '[attributes.face]\nmod = "blur"': "attributes.face: unknown setting 'mod'; did you mean 'mode'?",
        '[attributes.fcae]\nmode = "blur"': "attributes: unknown attribute 'fcae'; did you mean 'face'?",
        "[sensitivity]\nface = 7": "sensitivity.face: expected a number from 1.0 to 5.0, got 7",
        "dilate = 2.5": "dilate: expected a whole number of pixels from 0 to 1000",
        "priors = 'yes'": "priors: expected true or false",
        "hide = [": "not valid TOML",
    }
    for text, message in cases.items():
        with pytest.raises(PreferencesError) as error:
            parse_preferences(text, "prefs.toml")
        assert str(error.value).startswith("prefs.toml: ") and message in str(error.value), (text, str(error.value))


def test_yaml_and_toml_files_read_the_same(tmp_path):
    (tmp_path / "p.toml").write_text('hide = ["face", "plates"]\nmode = "pixelate"\n[attributes.face]\nthreshold = 0.3\n')
    (tmp_path / "p.yaml").write_text("hide: [face, plates]\nmode: pixelate\nattributes:\n  face:\n    threshold: 0.3\n")
    toml, yaml = load_preferences(tmp_path / "p.toml"), load_preferences(tmp_path / "p.yaml")
    assert (toml.hide, toml.mode, toml.attributes) == (yaml.hide, yaml.mode, yaml.attributes)
    with pytest.raises(PreferencesError, match="missing.toml: cannot read"):
        load_preferences(tmp_path / "missing.toml")
    (tmp_path / "binary.toml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(PreferencesError, match="binary.toml: not a text file"):
        load_preferences(tmp_path / "binary.toml")


_values = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(-2, 2), st.just(float("nan")),
                    st.text(max_size=12), st.lists(st.sampled_from(["face", "text", "plates", "fcae", 3]), max_size=3))
_keys = st.one_of(st.sampled_from(TOP_LEVEL_KEYS), st.text(min_size=1, max_size=10))


@given(st.dictionaries(_keys, _values, max_size=5))
@settings(max_examples=150)
def test_any_table_gives_preferences_or_a_named_error(data):
    """Whatever a user writes, the answer is a usable Preferences or a PreferencesError naming the file."""
    import yaml

    text = yaml.safe_dump(data)
    try:
        preferences = parse_preferences(text, "fuzz.yaml", syntax="yaml")
    except PreferencesError as error:
        assert str(error).startswith("fuzz.yaml: ")
        return
    plan = preferences.plan(vispr_vocabulary())  # a valid file always gives a valid plan
    assert plan.mode in ("solid", "blur", "pixelate", "mask-only")


def _report(ids, probabilities):
    maps = np.zeros((len(ids), 4, 4), np.float32)
    maps[:, 1:3, 1:3] = 1.0
    return PrivacyReport((8, 8), list(ids), np.asarray(probabilities, np.float32), maps, 0.5)


def test_plan_decides_per_attribute_threshold_and_text_stays_solid():
    ids = ["a0_safe", "a9_face_complete", "a19_name_full", "a4_gender"]
    vocabulary = vocabulary_from_ids(ids)
    report = _report(ids, [0.9, 0.6, 0.7, 0.2])
    preferences = parse_preferences('mode = "blur"\n[attributes.gender]\nthreshold = 0.1\nmode = "pixelate"\n')
    plan = preferences.plan(vocabulary)
    decided = {d.attribute: (d.mode, round(d.probability, 2)) for d in plan.decide(report)}
    assert decided == {"a19_name_full": ("solid", 0.7), "a9_face_complete": ("blur", 0.6), "a4_gender": ("pixelate", 0.2)}
    assert is_text_attribute(vocabulary["a19_name_full"]) and not is_text_attribute(vocabulary["a9_face_complete"])
    explicit = ProtectionPlan(vocabulary, mode="blur", text_mode="pixelate")
    assert explicit.mode_for("a19_name_full") == "pixelate"  # only when the user says so
    forced = ProtectionPlan(vocabulary, hide=("a4_gender",), force=True)
    assert [d.attribute for d in forced.decide(report)] == ["a4_gender"]
    assert ProtectionPlan(vocabulary, hide=("a4_gender",)).decide(report) == []
    assert forced.mask(report).sum() == 16  # the 2x2 map cells cover the middle 4x4 pixels
    with pytest.raises(ValueError, match="did you mean 'pixelate'"):
        ProtectionPlan(vocabulary, mode="pixelat")
    with pytest.raises(UnknownAttributeError):
        ProtectionPlan(vocabulary, hide=("a31_passport",))


def test_preferences_names_a_model_does_not_know_are_dropped_not_fatal():
    small = vocabulary_from_ids(["a0_safe", "a9_face_complete"])
    plan = Preferences(hide=("face", "passport")).plan(small)
    assert plan.hide == ("a9_face_complete",)
