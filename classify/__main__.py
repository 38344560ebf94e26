"""python -m classify train ... | python -m classify evaluate ... (see classify/cli.py)."""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before anything imports TensorFlow

from classify.cli import main

if __name__ == "__main__":
    sys.exit(main())
