"""What every :class:`~shoprank.index.writelog.CatalogLog` backend must do.

``make_store`` opens the log of the index at ``self.index_root``."""
from __future__ import annotations

from pathlib import Path

from shoprank.index.writelog import CatalogLog, CatalogWrite
from shoprank.types import Product
from stores.contract import StoreContract, run_threads


def product(pid: str, title: str = "Red Lamp", price: float = 10.0) -> Product:
    return Product(id=pid, title=title, price=price, categories=["Home/Lighting"], attributes={"color": ["Red"]})


class WriteLogContract(StoreContract[CatalogLog]):
    @property
    def index_root(self) -> Path:
        return self.tmp_path / "index"

    def test_empty(self):
        log = self.open()
        assert log.last_seq() == 0 and list(log.scan()) == []
        assert log.append([]) == []

    def test_append_returns_increasing_seqs_and_scan_gives_the_writes_back(self):
        log = self.open()
        writes = [CatalogWrite.put(product("a")), CatalogWrite.delete("b"), CatalogWrite.put(product("a", price=7))]
        seqs = log.append(writes)
        assert seqs == sorted(seqs) and len(set(seqs)) == 3 and log.last_seq() == seqs[-1]
        assert list(log.scan()) == list(zip(seqs, writes, strict=True))
        more = log.append([CatalogWrite.delete("a")])
        assert more[0] > seqs[-1] and log.last_seq() == more[0]

    def test_scan_after_and_until(self):
        log = self.open()
        seqs = log.append([CatalogWrite.put(product(f"p{i}")) for i in range(5)])
        assert [s for s, _ in log.scan(after=seqs[1])] == seqs[2:]
        assert [s for s, _ in log.scan(after=seqs[0], until=seqs[2])] == seqs[1:3]
        assert list(log.scan(after=seqs[-1])) == []

    def test_scan_pages_through_many(self):
        log = self.open()
        seqs = log.append([CatalogWrite.delete(f"p{i}") for i in range(2500)])
        assert [s for s, _ in log.scan()] == seqs
        assert [w.id for _, w in log.scan(after=seqs[1234])][:2] == ["p1235", "p1236"]

    def test_exists_once_written_and_creates_nothing(self):
        log = self.open()
        log.append([CatalogWrite.delete("x")])
        cls = type(log)
        assert cls.exists(self.settings, self.index_root)
        other = self.tmp_path / "other-index"
        assert not cls.exists(self.settings, other) and not other.exists()

    def test_writes_survive_close_and_reopen(self):
        log = self.open()
        seqs = log.append([CatalogWrite.put(product("a")), CatalogWrite.delete("b")])
        log.close()
        log = self.open()
        assert [s for s, _ in log.scan()] == seqs and log.last_seq() == seqs[-1]
        assert log.append([CatalogWrite.delete("c")])[0] > seqs[-1]

    def test_concurrent_appends_from_two_handles_are_ordered_and_kept(self):
        a, b = self.open(), self.open()
        acked: list[list[int]] = [[], []]

        def work(i: int) -> None:
            for j in range(50):
                acked[i] += (a, b)[i].append([CatalogWrite.delete(f"{i}-{j}")])

        run_threads(2, work)
        for log in (a, b):
            got = list(log.scan())
            assert [s for s, _ in got] == sorted(acked[0] + acked[1]) and len(got) == 100
            assert [w.id for _, w in got if w.id.startswith("0-")] == [f"0-{j}" for j in range(50)]
