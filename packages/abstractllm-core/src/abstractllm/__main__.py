"""``python -m abstractllm``: the ``abstractllm`` command (see :mod:`abstractllm.cli`)."""

import sys

from abstractllm.cli import main

if __name__ == "__main__":
    sys.exit(main())
