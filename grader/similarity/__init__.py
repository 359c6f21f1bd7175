"""Similarity across a class and against known solutions: evidence for the instructor.

Stages: :mod:`.documents` (the code cells compared, template lines blanked),
:mod:`.code` (winnowed fingerprints and line fingerprints, weighed by rarity;
the similarity of every pair; shared fragments), :mod:`.models` (identical
models from the fingerprints the grading stored), :mod:`.evidence` (how far
out a pair lies in its class, which pairs stand out and why, clusters),
:mod:`.report` (the ranked ``similarity.html`` and ``similarity.csv``);
:mod:`.defaults` holds the settings' defaults.  The entry point is
:func:`similarity_report`.

Names are loaded on first use, so that ``grader --help`` (which reads
:mod:`.defaults`) stays fast.
"""
from __future__ import annotations

_EXPORTS = {"CodeSettings": "code", "Thresholds": "evidence", "SimilarityReport": "report",
            "check_corpus": "report", "similarity_report": "report"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
