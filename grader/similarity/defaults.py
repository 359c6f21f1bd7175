"""The similarity report's settings, their defaults and meaning: one table for the library and the CLI.

Imported by ``grader --help`` (argparse only), so it imports nothing.  The
defaults are calibrated on the fixtures of ``tests/similarity`` and on a
synthetic class (docs/instructor/similarity.md: the figures and why).
"""
from __future__ import annotations

# name -> (default, meaning); each is an option --name-with-dashes of `grader similarity`.
THRESHOLD_DEFAULTS = {
    "code": (0.6, "code score (share of a learner's own code found in the other notebook, times "
                  "the rarity of what they share) that reports a pair on its own"),
    "min_weight": (40.0, "... when the shared code weighs at least this many fingerprints (about a "
                         "dozen lines of a learner's own code)"),
    "code_short": (0.8, "share of each one's code in common that reports a pair sharing less code "
                        "than that ..."),
    "min_weight_short": (15.0, "... but at least this many fingerprints"),
    "code_with_model": (0.5, "share of code in common that reports a pair when the two also share a "
                             "rare model"),
    "model_weight": (0.7, "weight (rarity x diversity) from which a shared model counts as rare"),
    "corpus_code": (0.5, "code score against a corpus file that reports the match"),
}
CODE_DEFAULTS = {
    "noise": (25, "shortest shared fragment that counts, in filtered characters (copydetect's noise "
                  "threshold)"),
    "guarantee": (30, "shared fragments this long are always found (copydetect's guarantee threshold)"),
    "common_share": (0.1, "a fragment found in more than this share of the learners is common, not "
                          "evidence ..."),
    "common_min": (5, "... when it is also found in more than this many learners (as MOSS's -m)"),
    "min_shared": (3, "fingerprints two notebooks must share to be compared"),
    "rare_share": (0.02, "a shared fragment found in at most this share of the learners weighs fully "
                         "..."),
    "rare_min": (4, "... or in at most this many; one found in more weighs less (rarity)"),
}
