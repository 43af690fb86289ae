"""`python -m pipelines.cli` = `llamapipe`."""
import sys

from pipelines.cli import main

sys.exit(main())
