"""Query-time embeddings use all torch threads only when nothing else wants the cores."""
from __future__ import annotations

import sys
import types

import pytest

from rag import retrieve


class FakeTorch(types.ModuleType):
    def __init__(self, threads: int) -> None:
        super().__init__("torch")
        self.threads = threads

    def get_num_threads(self) -> int:
        return self.threads

    def set_num_threads(self, n: int) -> None:
        self.threads = n


@pytest.fixture
def torch(monkeypatch: pytest.MonkeyPatch) -> FakeTorch:
    fake = FakeTorch(2)
    monkeypatch.setitem(sys.modules, "torch", fake)
    return fake


def test_alone_on_an_idle_machine_keeps_all_threads(torch: FakeTorch,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retrieve, "cores_idle", lambda: True)
    with retrieve.query_threads():
        assert torch.threads == 2
        with retrieve.query_threads():  # a second, concurrent query
            assert torch.threads == 1
        assert torch.threads == 1  # the first keeps one thread until it leaves
    assert torch.threads == 2


def test_busy_machine_gets_one_thread(torch: FakeTorch, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retrieve, "cores_idle", lambda: False)
    with retrieve.query_threads():
        assert torch.threads == 1
    assert torch.threads == 2


def test_threads_restored_after_an_error(torch: FakeTorch,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retrieve, "cores_idle", lambda: False)
    with pytest.raises(RuntimeError), retrieve.query_threads():
        raise RuntimeError("embedding failed")
    assert torch.threads == 2


def test_cores_idle_reads_the_runnable_count(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    import builtins

    real_open = builtins.open

    def fake(text: str):
        def opener(path, *a, **k):
            if path == "/proc/loadavg":
                f = tmp_path / "loadavg"
                f.write_text(text)
                return real_open(f, *a, **k)
            return real_open(path, *a, **k)
        return opener

    monkeypatch.setattr(builtins, "open", fake("0.10 0.20 0.30 1/300 4242\n"))
    assert retrieve.cores_idle()
    monkeypatch.setattr(builtins, "open", fake("1.90 1.20 0.30 3/300 4242\n"))
    assert not retrieve.cores_idle()
    monkeypatch.setattr(builtins, "open", fake("garbled"))
    assert not retrieve.cores_idle()
