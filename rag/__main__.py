"""`python -m rag` runs the newscite CLI."""
import sys

from rag.cli import main

sys.exit(main())
