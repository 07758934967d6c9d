"""The error tree every newscite failure a user can cause or meet belongs to.

RagError
├── ConfigError        settings that cannot work (bad value, unknown engine)
├── IndexError_        the on-disk index is missing, locked, damaged or built differently
│   ├── IndexLockedError      another process is writing the same data folder
│   └── ModelMismatchError    the collection was built with another embedding model
├── StoreError         Chroma (embedded or server) cannot be reached or written
├── InputError         a question or file the user gave cannot be used
├── FetchError         a web page or feed could not be fetched, or was refused (address,
│                      content type, HTTP status, timeout, redirects)
└── EngineError        an answer engine failed (model missing, server down, timeout)

Caller bugs (wrong types, impossible arguments) raise ValueError / TypeError instead.
"""
from __future__ import annotations


class RagError(Exception):
    """Root of newscite's errors; its message is safe to show a user."""


class ConfigError(RagError):
    pass


class IndexError_(RagError):  # noqa: N801 - avoid shadowing the builtin IndexError
    pass


class IndexLockedError(IndexError_):
    pass


class ModelMismatchError(IndexError_):
    pass


class StoreError(RagError):
    pass


class InputError(RagError):
    pass


class EngineError(RagError):
    pass


class FetchError(RagError):
    pass
