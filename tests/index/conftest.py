"""The fetch and feed tests share news_site.py (a small news site on 127.0.0.1)."""
from __future__ import annotations

import sys
from pathlib import Path

# --import-mode=importlib puts no test folder on sys.path
sys.path.insert(0, str(Path(__file__).resolve().parent))
