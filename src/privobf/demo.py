"""`make demo`: scan sample photos with the embedded model, hide what it finds, write what it did.

Samples: scikit-image's `astronaut` (a person and her face), `page` and `text` (printed text),
`coffee` (nothing private), and three synthetic privacy scenes drawn on held-out (val) photos
with chosen contents (a person with a card, a car with a letter, a face with a business card). For each one the demo
writes the obfuscated image, a heat-map picture, a before / after picture and the JSON report.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def sample_images() -> list[tuple[str, np.ndarray]]:
    import skimage.data

    samples = []
    for name in ("astronaut", "page", "text", "coffee"):
        image = getattr(skimage.data, name)()
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        samples.append((name, np.ascontiguousarray(image[..., :3])))
    from .data.synthetic import render_scene
    from .data.synthetic import resolve_photo_folder

    photos = resolve_photo_folder("auto")
    for k, carriers in enumerate((["person", "card"], ["car", "envelope"], ["face", "business_card"])):
        rng = np.random.default_rng([424242, k])
        scene = render_scene(rng, 448, carriers=carriers, photos=photos, split="val")
        samples.append((f"synthetic-{'-'.join(carriers)}", scene.image))
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m privobf.demo", description=__doc__)
    parser.add_argument("--out", default="demo-output", help="folder for the results (default demo-output)")
    parser.add_argument("--model", help="model file; default: the embedded model")
    from .priors.options import add_prior_arguments, prior_set_from_arguments

    add_prior_arguments(parser)
    args = parser.parse_args(argv)

    from .imageio import save_image_atomic
    from .obfuscation import obfuscate
    from .scanning import Scanner
    from .visualize import heatmap_overlay, side_by_side

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    scanner = Scanner(args.model, prior_set=prior_set_from_arguments(args), fusion=args.fusion)
    print(f"model: {scanner.model.source['path']} (preset {scanner.model.preset.name}, sha256 {scanner.model.source['sha256']})")
    if scanner.prior_set is not None:
        described = scanner.prior_set.describe()
        print(f"priors: {', '.join(described['providers']) or 'none'}"
              + "".join(f"; {name} unavailable" for name in described["unavailable"]))
    print(f"{'image':<12} {'score':>5}  hidden (probability)")
    for name, image in sample_images():
        report = scanner.scan(image)
        present = report.present()
        hidden = obfuscate(image, report, hide=present, mode="solid")
        for suffix, picture in (("obfuscated", hidden), ("heatmap", heatmap_overlay(image, report, present)),
                                ("before-after", side_by_side(image, hidden))):
            save_image_atomic(picture, out / f"{name}.{suffix}.png", overwrite=True)
        (out / f"{name}.report.json").write_text(json.dumps(report.to_dict(), indent=1) + "\n")
        shown = ", ".join(f"{a} ({report.probability(a):.2f})" for a in present) or "nothing"
        print(f"{name:<12} {report.privacy_score:5.2f}  {shown}")
    print(f"wrote {out}/: *.obfuscated.png, *.heatmap.png, *.before-after.png, *.report.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
