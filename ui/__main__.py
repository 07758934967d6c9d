"""`python -m ui` runs the newscite CLI (as the `newscite` command does)."""
import sys

from ui.cli import main

sys.exit(main())
