"""The prior machinery with fake providers: combination, cache, failures, training and scan wiring."""

from dataclasses import dataclass, field

import numpy as np
import pytest

from privobf.priors import PriorCache, PriorResult, PriorSet, ProviderUnavailable, image_key, register_provider
from privobf.priors.attach import WithPriors, precompute_priors



class Square:
    """Marks a fixed square; counts its calls."""

    def __init__(self, name, kind, box, value=1.0):
        self.name, self.kind, self.version = name, kind, f"{name}-1"
        self.box, self.value, self.calls = box, value, 0
        self.texts: list[str] = []

    def __call__(self, image):
        self.calls += 1
        mask = np.zeros(image.shape[:2], np.float32)
        x0, y0, x1, y1 = self.box
        mask[y0:y1, x0:x1] = self.value
        return PriorResult(mask, [tuple(map(float, self.box))], [0.9], list(self.texts))


class Broken:
    name, kind, version = "broken", "text", "b-1"

    def __call__(self, image):
        raise RuntimeError("detector crashed")


@register_provider("test-missing")
def _missing(**options):
    raise ProviderUnavailable("test-missing", "priors", "package not installed")


def _image(seed=0, shape=(24, 32)):
    return np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8)


def test_human_is_max_of_person_and_face_text_is_max_of_text_and_plate():
    person, face = Square("p", "person", (0, 0, 10, 10), 0.5), Square("f", "face", (5, 5, 15, 15))
    text, plate = Square("t", "text", (20, 0, 30, 4)), Square("l", "plate", (20, 10, 30, 14), 0.7)
    maps = PriorSet([person, face, text, plate])(_image())
    assert maps.human[0, 0] == 0.5 and maps.human[7, 7] == 1.0 and maps.human[12, 12] == 1.0 and maps.human[20, 25] == 0
    assert maps.text[2, 25] == 1.0 and maps.text[12, 25] == pytest.approx(0.7) and maps.text[7, 7] == 0
    assert set(maps.results) == {"p", "f", "t", "l"} and maps.for_model().keys() == {"human", "text"}
    assert PriorSet([text])(_image()).human is None


def test_unavailable_and_failing_providers_are_reported_not_fatal():
    prior_set = PriorSet(["test-missing", Broken(), Square("p", "person", (0, 0, 4, 4))])
    maps = prior_set(_image())
    assert "pip install 'privobf[priors]'" in prior_set.unavailable["test-missing"] and "--no-deps" in prior_set.unavailable["test-missing"]
    assert maps.errors == {"broken": "RuntimeError: detector crashed"} and maps.text is None and maps.human is not None
    assert prior_set.describe() == {"providers": {"broken": "b-1", "p": "p-1"}, "unavailable": prior_set.unavailable}
    with pytest.raises(ProviderUnavailable, match="privobf\\[priors\\]"):
        PriorSet(["test-missing"], strict=True).providers
    with pytest.raises(RuntimeError, match="crashed"):
        PriorSet([Broken()], strict=True)(_image())


def test_cache_reuses_entries_keys_on_content_and_version_and_recomputes_corrupt_ones(tmp_path):
    provider = Square("p", "person", (0, 0, 10, 10), 0.4)
    prior_set = PriorSet([provider], cache=tmp_path)
    first = prior_set(_image(0)).human
    second = prior_set(_image(0)).human
    assert provider.calls == 1 and np.array_equal(first, second)
    assert np.abs(first[0, 0] - 0.4) <= 0.5 / 255  # stored as uint8 steps; the fresh result is quantised the same way
    assert prior_set.cache.stats() == {"hits": 1, "misses": 1, "corrupt": 0}
    prior_set(_image(1))
    assert provider.calls == 2  # other pixels, other key
    provider.version = "p-2"
    prior_set(_image(0))
    assert provider.calls == 3  # a new provider version never reads old entries
    entry = prior_set.cache.path(image_key(_image(0)), "p", "p-2")
    entry.write_bytes(entry.read_bytes()[:40])  # truncated by a crash
    again = prior_set(_image(0))
    assert provider.calls == 4 and prior_set.cache.corrupt == 1 and np.array_equal(again.human, first)
    cached = PriorCache(tmp_path).get(image_key(_image(0)), "p", "p-2", (24, 32))
    assert cached.boxes == [(0.0, 0.0, 10.0, 10.0)] and cached.scores == [pytest.approx(0.9)]
    assert PriorCache(tmp_path).get(image_key(_image(0)), "p", "p-2", (10, 10)) is None  # wrong shape: not trusted


def test_cache_never_writes_recognised_text_to_disk(tmp_path):
    reader = Square("reader", "text", (0, 0, 10, 10))
    reader.texts = ["Jane Doe 555-0199"]
    prior_set = PriorSet([reader], cache=tmp_path / "cache")
    first = prior_set(_image(0))
    second = prior_set(_image(0))
    assert first.results["reader"].texts == second.results["reader"].texts == ["Jane Doe 555-0199"]
    assert reader.calls == 2  # read again: nothing was stored
    written = [path for path in (tmp_path / "cache").rglob("*") if path.is_file()]
    assert not any(b"Jane" in path.read_bytes() for path in written)


@dataclass
class Photo:
    image: np.ndarray
    labels: list = field(default_factory=lambda: ["x1_person_body"])


class Photos:
    vocabulary_ids = ["x1_person_body"]

    def __init__(self, n):
        self.items = [Photo(_image(i)) for i in range(n)]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]


def test_training_priors_are_computed_once_then_read_from_the_cache(tmp_path):
    provider = Square("p", "person", (0, 0, 8, 8))
    photos = Photos(3)
    prior_set = PriorSet([provider], cache=tmp_path)
    stats = precompute_priors(photos, prior_set, progress=False)
    assert stats["images"] == 3 and stats["cache"]["misses"] == 3 and provider.calls == 3
    wrapped = WithPriors(photos, prior_set)
    item = wrapped[1]
    assert item.human_prior.shape == (24, 32) and item.text_prior is None and provider.calls == 3
    assert not hasattr(photos[1], "human_prior")  # the reader's item is untouched
    with pytest.raises(ValueError, match="cache"):
        precompute_priors(photos, PriorSet([provider]), progress=False)


def test_prior_set_survives_pickling_without_its_sessions(tmp_path):
    import pickle

    prior_set = PriorSet([Square("p", "person", (0, 0, 4, 4))], cache=tmp_path)
    prior_set(_image())
    clone = pickle.loads(pickle.dumps(prior_set))
    assert clone._providers is None and clone.requested == ["p"]


def test_scanner_computes_priors_and_reports_them(tiny_model):
    from privobf.scanning import Scanner

    plain = Scanner(tiny_model).scan(_image(shape=(64, 64)))
    assert plain.priors == {"human": "off", "text": "off"}
    scanner = Scanner(tiny_model, prior_set=PriorSet(["test-missing", Square("p", "person", (0, 0, 32, 32))]))
    report = scanner.scan(_image(shape=(64, 64)))
    assert report.priors["human"] == "computed" and report.priors["text"] == "absent"
    assert report.priors["providers"] == {"p": "p-1"} and report.priors["detections"] == {"p": 1}
    assert any("test-missing unavailable" in note for note in report.notes)
    given = scanner.scan(_image(shape=(64, 64)), {"human": None, "text": np.ones((64, 64), np.float32)})
    assert given.priors == {"human": "absent", "text": "given"}


def test_unknown_provider_name_is_a_usage_error(tmp_path, capsys):
    from privobf.cli import main

    image = tmp_path / "a.png"
    from PIL import Image

    Image.fromarray(_image(shape=(32, 32))).save(image)
    assert main(["scan", str(image), "--prior-providers", "centerfaec"]) == 2
    assert "unknown prior provider(s) centerfaec" in capsys.readouterr().err
