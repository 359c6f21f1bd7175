"""``python -m grader.post RESULTS --to NAME``: the same as ``grader post``."""
import sys

from .cli import main

sys.exit(main())
