"""`python -m rag` runs the newscite CLI."""
import sys

from ui.cli import main

sys.exit(main())
