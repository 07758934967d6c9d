"""`python -m eval`: the evaluation harness command line."""
import sys

from eval.cli import main

sys.exit(main())
