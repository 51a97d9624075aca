"""PrivMini on the real data root, and `privobf evaluate --data-root` on it."""

import json

import pytest

from privobf.cli import main
from privobf.data.privmini import PRIVMINI_IDS, PrivMini, split_of



def test_split_is_deterministic_disjoint_and_complete(shared_data):
    train, val, everything = PrivMini(shared_data, "train"), PrivMini(shared_data, "val"), PrivMini(shared_data, "all")
    key = lambda d: {(r.source, r.index) for r in d.refs}  # noqa: E731
    assert key(train).isdisjoint(key(val)) and key(train) | key(val) == key(everything)
    assert set(val.source_counts()) == {"coco128", "openalpr", "sroie"}
    assert 0.1 < len(val) / len(everything) < 0.3
    assert split_of("sroie", "X00016469612") == split_of("sroie", "X00016469612")


def test_items_carry_vispr_ids_and_their_ground_truth(shared_data):
    data = PrivMini(shared_data, "val")
    seen = set()
    for ref_index in range(len(data)):
        source = data.refs[ref_index].source
        if source in seen:
            continue
        seen.add(source)
        item = data[ref_index]
        assert set(item.labels) <= set(PRIVMINI_IDS) and item.labels
        assert set(item.masks) <= set(item.labels) - {"a0_safe"}
        for mask in item.masks.values():
            assert mask.shape == item.image.shape[:2] and mask.any()
        if source == "openalpr":
            assert item.labels == ["a103_license_plate_complete"] and item.boxes["a103_license_plate_complete"]
    assert seen == {"coco128", "openalpr", "sroie"}


def test_missing_root_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="no PrivMini images"):
        PrivMini(tmp_path)
    assert main(["evaluate", "--data-root", str(tmp_path)]) == 2
    assert "no PrivMini images" in capsys.readouterr().err


@pytest.mark.slow
def test_evaluate_data_root_runs_the_whole_benchmark(shared_data, tiny_model, tmp_path):  # noqa: F811
    out = tmp_path / "privmini.json"
    assert main(["evaluate", "--model", str(tiny_model), "--data-root", str(shared_data), "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["setup"]["data"]["source"] == "privmini"
    assert set(result["box_coverage"]) == {"a103_license_plate_complete", "a74_address_current_complete", "a82_date_time"}
    assert result["privacy_score"]["n"] == len(PrivMini(shared_data, "val"))
    assert result["masks_localisation"]["iou"]["x1_person_body"] is not None
