"""``python -m scalelaw.train data|train|sweep ...``: the trainer's commands, uninstalled.

On the GPU machine: ``PYTHONPATH=. python3 -m scalelaw.train sweep spec.yaml --out runs/x``.
"""

import sys

from scalelaw.train.cli import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
