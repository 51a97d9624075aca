import numpy as np
import pytest

from privobf.attributes import (
    MaskType,
    UnknownAttributeError,
    load_profiles,
    privacy_score,
    vispr_profiles,
    vispr_vocabulary,
    vocabulary_from_ids,
)


def test_vocabulary_has_the_68_vispr_attributes_in_release_order():
    vocabulary = vispr_vocabulary()
    assert len(vocabulary) == 68
    assert vocabulary.ids[0] == "a0_safe" and vocabulary.ids[-1] == "a104_license_plate_partial"
    assert [a.index for a in vocabulary] == list(range(68))
    assert vocabulary["a30_credit_card"].group == "Documents"


def test_every_attribute_has_a_mask_type_and_a_reason():
    vocabulary = vispr_vocabulary()
    for attribute in vocabulary:
        assert isinstance(attribute.mask_type, MaskType)
        assert len(attribute.mask_type_reason) > 10


@pytest.mark.parametrize(
    "attribute_id, expected",
    [  # the examples of the paper's Table 1
        ("a0_safe", MaskType.UNMASKED), ("a30_credit_card", MaskType.UNMASKED), ("a33_student_id", MaskType.UNMASKED),
        ("a38_ticket", MaskType.UNMASKED), ("a99_legal_involvement", MaskType.UNMASKED),
        ("a1_age_approx", MaskType.HUMAN), ("a2_weight_approx", MaskType.HUMAN), ("a5_eye_color", MaskType.HUMAN),
        ("a12_semi_nudity", MaskType.HUMAN), ("a13_full_nudity", MaskType.HUMAN), ("a16_race", MaskType.HUMAN),
        ("a19_name_full", MaskType.TEXT), ("a23_birth_city", MaskType.TEXT), ("a26_handwriting", MaskType.TEXT),
        ("a27_marital_status", MaskType.TEXT), ("a24_birth_date", MaskType.TEXT),
    ],
)
def test_mask_types_follow_paper_table_1(attribute_id, expected):
    assert vispr_vocabulary()[attribute_id].mask_type == expected


def test_resolve_names_groups_and_typos():
    vocabulary = vispr_vocabulary()
    assert vocabulary.resolve("a9_face_complete") == ["a9_face_complete"]
    assert vocabulary.resolve("face_partial") == ["a10_face_partial"]
    assert "a31_passport" in vocabulary.resolve("Documents")
    assert "a0_safe" not in vocabulary.resolve("all")
    with pytest.raises(UnknownAttributeError, match="did you mean 'face_complete'"):
        vocabulary.resolve("face_complet")


def test_encode_decode_round_trip():
    vocabulary = vispr_vocabulary()
    ids = ["a4_gender", "a9_face_complete"]
    vector = vocabulary.encode(ids)
    assert vector.sum() == 2 and sorted(vocabulary.decode(vector)) == sorted(ids)


def test_extension_ids_keep_their_mask_type():
    vocabulary = vocabulary_from_ids(["a0_safe", "x1_person_body", "my_own"])
    assert vocabulary["x1_person_body"].mask_type == MaskType.HUMAN
    assert vocabulary["my_own"].mask_type == MaskType.UNMASKED


def test_checkpoint_vocabulary_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="model.safetensors: attribute vocabulary differs"):
        vispr_vocabulary().check_compatible(["a0_safe", "a9_face_complete"], "model.safetensors")


def _row(attribute_id: str, values: list[float]) -> str:
    return "\t".join([attribute_id, "desc", *map(str, values)])


def test_privacy_scores_by_hand(tmp_path):
    # Two profiles, three rated attributes. Profile 0: face 5, name 2, age 1. Profile 1: face 1, name 4, age 3.
    path = tmp_path / "profiles.tsv"
    path.write_text("\n".join([_row("a9_face_complete", [5, 1]), _row("a19_name_full", [2, 4]), _row("a1_age_approx", [1, 3])]))
    profiles = load_profiles(path)
    labels = ["a9_face_complete", "a19_name_full"]
    assert privacy_score(labels, 0, "max", profiles) == pytest.approx(5 / 5)
    assert privacy_score(labels, 1, "max", profiles) == pytest.approx(4 / 5)
    assert privacy_score(labels, None, "max", profiles) == pytest.approx((1.0 + 0.8) / 2)
    assert privacy_score(labels, 0, "mean", profiles) == pytest.approx((5 + 2) / 2 / 5)
    assert privacy_score(labels, 1, "sum", profiles) == pytest.approx((1 + 4) / (5 * 68))
    assert privacy_score(["a0_safe"], 0, "max", profiles) == 0.0
    assert privacy_score([], None, "max", profiles) == 0.0
    assert privacy_score(["a0_safe", "a1_age_approx"], 1, "max", profiles) == pytest.approx(3 / 5)


def test_vispr_profiles_are_the_30_profiles_of_the_release():
    profiles = vispr_profiles()
    assert profiles.sensitivity.shape == (30, 68)
    assert (profiles.sensitivity[:, 0] == 0).all()  # a0_safe weighs 0
    rated = profiles.sensitivity[:, 1:]
    assert rated.min() >= 1.0 and rated.max() <= 5.0
    # First data row of user_profiles.tsv: a1_age_approx, profile 0 = 1.33333333333.
    assert profiles.sensitivity[0, vispr_vocabulary().index("a1_age_approx")] == pytest.approx(1.33333333333)


def test_soft_labels_equal_hard_scores_at_0_and_1():
    profiles = vispr_profiles()
    hard = vispr_vocabulary().encode(["a9_face_complete", "a30_credit_card"])
    np.testing.assert_allclose(profiles.scores(hard), profiles.scores(hard.astype(np.float64)))
    assert profiles.overall(np.zeros(68)) == 0.0


@pytest.mark.parametrize("content, message", [
    ("a9_face_complete\tx\t6\t1", "outside 1..5"),
    ("a9_face_complete\tx\tfive\t1", "non-numeric"),
    ("a9_face_complete\tx\t5\t1\na1_age_approx\tx\t2", "profile columns"),
])
def test_bad_profile_files_name_the_file_and_line(tmp_path, content, message):
    path = tmp_path / "mine.tsv"
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as info:
        load_profiles(path)
    assert "mine.tsv" in str(info.value)
