"""``python -m kasugai_functions.calc``: the same program as ``kasugai-calc``.

The image's ``/calcapp`` launcher uses this form, so that the process keeps ``/calcapp`` as its
argv[0] (see ``functions/calc/calcapp``).
"""

import sys

from kasugai_functions.calc.cli import main

sys.exit(main())
