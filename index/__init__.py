"""Ingestion: load, clean, chunk, embed and store news articles."""
