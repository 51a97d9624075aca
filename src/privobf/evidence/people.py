"""People found around faces: a second look by the person segmenter at the body below each detected face.

A segmenter that sees the whole photo at its small input size misses small and distant people; a face
detector finds many of their faces. Each face then anchors a crop where the segmenter sees that person
at selfie size. These silhouettes are their own provider in the report (`<segmenter>@faces`), with their
own calibration, since they are not the same evidence as the whole-photo pass.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .regions import MIN_PERSON_AREA, PERSON_THRESHOLD, Region, silhouettes

SUFFIX = "@faces"


def people_around_faces(image: np.ndarray, regions: Sequence[Region], providers: Mapping[str, object]) -> list[Region]:
    """Silhouettes from every provider that can segment around boxes (`segment_around`), one pass over all
    the face regions; none when no face was found."""
    faces = [region.box for region in regions if region.kind == "face"]
    if not faces:
        return []
    found: list[Region] = []
    for name, provider in providers.items():
        segment_around = getattr(provider, "segment_around", None)
        if getattr(provider, "kind", None) != "person" or segment_around is None:
            continue
        soft = segment_around(image, faces)
        found += silhouettes(name + SUFFIX, soft, PERSON_THRESHOLD, MIN_PERSON_AREA)
    return found


def contains_a_face(silhouette: Region, faces: Sequence[Region]) -> bool:
    """Whether a face region's centre lies on the silhouette: then the silhouette is a person, not a shadow."""
    if silhouette.mask is None:
        return False
    x, y = silhouette.origin
    height, width = silhouette.mask.shape
    for face in faces:
        cx, cy = int((face.box[0] + face.box[2]) / 2) - x, int((face.box[1] + face.box[3]) / 2) - y
        if 0 <= cy < height and 0 <= cx < width and silhouette.mask[cy, cx]:
            return True
    return False
