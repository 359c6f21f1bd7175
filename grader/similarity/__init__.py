"""Similarity across a class and against known solutions: evidence for the instructor.

Stages: :mod:`.documents` (the code cells compared, template lines blanked),
:mod:`.code` (copydetect's winnowing fingerprints, an inverted index, shared
fragments), :mod:`.models` (identical models from the fingerprints the grading
stored), :mod:`.evidence` (which pairs are reported, clusters), :mod:`.report`
(``similarity.html`` and ``similarity.csv``).  The entry point is
:func:`similarity_report`.
"""
from .code import CodeSettings
from .evidence import Thresholds
from .report import SimilarityReport, check_corpus, similarity_report

__all__ = ["CodeSettings", "SimilarityReport", "Thresholds", "check_corpus", "similarity_report"]
