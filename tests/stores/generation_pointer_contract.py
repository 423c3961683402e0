"""What every :class:`~shoprank.index.generations.GenerationPointer` backend must do.

``make_store`` opens the pointer of the index at ``self.index_root``."""
from __future__ import annotations

import threading
from pathlib import Path

from shoprank.index.generations import GenerationPointer, IndexHome
from stores.contract import StoreContract


def write_manifest(folder: Path) -> None:
    (folder / "manifest.json").write_text("{}")  # all a build needs to publish and hold a generation


class GenerationPointerContract(StoreContract[GenerationPointer]):
    @property
    def index_root(self) -> Path:
        root = self.tmp_path / "index"
        root.mkdir(exist_ok=True)
        return root

    def test_nothing_is_named_at_first(self):
        assert self.open().get() is None

    def test_set_replaces_the_name(self):
        ptr = self.open()
        ptr.set("gen-000001")
        assert ptr.get() == "gen-000001"
        ptr.set("gen-000002")
        ptr.set("gen-000002")  # again: harmless
        assert ptr.get() == "gen-000002"

    def test_another_handle_and_a_reopen_see_it(self):
        a, b = self.open(), self.open()
        a.set("gen-000007")
        assert b.get() == "gen-000007" and self.open().get() == "gen-000007"

    def test_readers_never_see_a_torn_or_missing_name_while_it_changes(self):
        writer, reader = self.open(), self.open()
        writer.set("gen-000001")
        names = {f"gen-{n:06d}" for n in range(1, 41)}
        seen: set[str | None] = set()
        done = threading.Event()

        def read() -> None:
            while not done.is_set():
                seen.add(reader.get())

        t = threading.Thread(target=read)
        t.start()
        try:
            for name in sorted(names):
                writer.set(name)
        finally:
            done.set()
            t.join(10)
        assert seen <= names and reader.get() == "gen-000040"

    def test_index_home_publishes_through_it(self):
        ptr = self.open()
        home = IndexHome(self.index_root, ptr)
        assert home.current() is None
        first, _ = home.build(write_manifest)
        assert first.name == "gen-000001" == ptr.get() == home.current()
        second, _ = home.build(write_manifest)
        assert ptr.get() == home.current() == second.name == "gen-000002"
        assert IndexHome(self.index_root, self.open()).current() == "gen-000002"
