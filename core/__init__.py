"""The kernel: records, errors, settings and text analysis; it imports nothing else of newscite."""
