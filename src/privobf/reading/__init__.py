"""Reading text: which VISPR text attributes a line of text shows, from what it says (issue 18).

Pure functions on text: OCR lines in, `Finding`s out (attribute, recogniser, confidence, character span; never
the text). One registry of small recognisers in the style of Presidio's analyzer; see `recognizers.py` for the
registry and the merge rule, `confidence.py` for the (not yet calibrated) confidence of each kind of evidence.

    from privobf.reading import ReadingContext, TextLine, recognize
    line = TextLine("Tel: +60 12-345 6789")
    for finding in recognize(line, ReadingContext()):
        print(finding.attribute, finding.confidence, finding.word_indices(line))
"""

from .confidence import CONFIDENCE
from .recognizers import (
    SUPERSEDES,
    BaseRecognizer,
    Recognizer,
    RecognizerUnavailable,
    available_recognizers,
    clear_recognizer_cache,
    create_recognizer,
    list_recognizers,
    merge_findings,
    readable_attributes,
    recognize,
    register_recognizer,
    unavailable_recognizers,
)
from .types import Finding, ReadingContext, TextLine, Word, split_words

__all__ = [
    "CONFIDENCE", "SUPERSEDES", "BaseRecognizer", "Finding", "ReadingContext", "Recognizer", "RecognizerUnavailable",
    "TextLine", "Word", "available_recognizers", "clear_recognizer_cache", "create_recognizer", "list_recognizers",
    "merge_findings", "readable_attributes", "recognize", "register_recognizer", "split_words", "unavailable_recognizers",
]
