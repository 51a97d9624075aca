"""The built-in prior providers. Importing this package registers them; it imports no heavy package.

Each provider imports its detector (mediapipe, onnxruntime, rapidocr, ...) in its constructor and turns a
missing package or model file into ProviderUnavailable naming the extra to install.
"""

from . import (  # noqa: F401
    centerface_face, haar_plate, mediapipe_face, mediapipe_person, nudenet_nudity, ppocr_reader, rapidocr_text,
)

BUILTIN_PROVIDERS = ("centerface", "haar-plate", "mediapipe-face", "mediapipe-person", "nudenet", "ppocr-v6", "rapidocr")
