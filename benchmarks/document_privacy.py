"""Does the privacy score of a photo with a passport or a chat move the way VISPR's profiles say (issue 19)?

    python benchmarks/document_privacy.py [--scenes 300] [--before MODEL] [--after MODEL]

On held-out synthetic document scenes (`DocumentScenes` seed 1, val-split backgrounds: never trained on),
the score of the scene's labels under VISPR's 30 profiles (max pooling over the labelled attributes, mean over
profiles: what the profiles say) against the score the scanner gives the photo, with a model before and after
it learnt the document types (default: the embedded model now, and the model of its metadata's
`extended.base_model_sha256`, passed as --before). Priors and reading off: the model alone. Pearson,
Spearman and L1 over the scenes, and the mean score of scenes with and without a document. Writes
benchmarks/results/document_privacy.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import RESULTS, machine  # noqa: E402


def scores(model: str | None, scenes) -> tuple[list[float], list[float]]:
    from privobf.attributes.profiles import vispr_profiles
    from privobf.scanning import Scanner

    scanner = Scanner(model)
    profiles = vispr_profiles(scanner.vocabulary)
    given, predicted = [], []
    for index in range(len(scenes)):
        scene = scenes[index]
        labels = np.array([float(a in scene.labels) for a in scanner.vocabulary.ids], np.float32)
        given.append(float(np.mean(profiles.scores(labels, "max"))))
        predicted.append(float(scanner.scan(scene.image).privacy_score))
    return given, predicted


def summary(given, predicted, labelled) -> dict:
    from privobf.evaluate.metrics import pearson, score_l1, spearman

    with_document = [p for p, has in zip(predicted, labelled) if has]
    without = [p for p, has in zip(predicted, labelled) if not has]
    return {"pearson": round(pearson(predicted, given), 4), "spearman": round(spearman(predicted, given), 4),
            "l1": round(score_l1(predicted, given), 4),
            "mean_score_with_a_document": round(float(np.mean(with_document)), 4) if with_document else None,
            "mean_score_without": round(float(np.mean(without)), 4) if without else None}


def main() -> int:
    from privobf.data.document_scenes import DocumentScenes

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=300)
    parser.add_argument("--before", required=True, help="the model before it learnt the document types")
    parser.add_argument("--after", default=None, help="the model after (default: the embedded model)")
    args = parser.parse_args()
    started = time.time()
    scenes = DocumentScenes(args.scenes, seed=1, split="val")
    labelled = [bool(scenes[k].labels) for k in range(len(scenes))]
    result = {}
    for name, model in (("before", args.before), ("after", args.after)):
        given, predicted = scores(model, scenes)
        result[name] = summary(given, predicted, labelled)
    # The labels' own score does not depend on the model: from the last run's scanner vocabulary.
    result["labels_in_mean_with_a_document"] = round(float(np.mean([g for g, has in zip(given, labelled) if has])), 4)
    result["labels_in_mean_without"] = round(float(np.mean([g for g, has in zip(given, labelled) if not has])), 4)
    document = {"command": "python benchmarks/document_privacy.py " + " ".join(sys.argv[1:]), "machine": machine(),
                "data": f"DocumentScenes seed 1, val backgrounds, {args.scenes} scenes ({sum(labelled)} with a document)",
                "results": result, "seconds": round(time.time() - started, 1)}
    (RESULTS / "document_privacy.json").write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(document, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
