"""Arrays that grow by appending, for what a live catalog adds while serving."""
from __future__ import annotations

import numpy as np


class GrowingArray:
    """Rows appended into spare room that doubles when full, so appending k rows to n costs O(k)
    (amortised) instead of a copy of all n.

    :meth:`view` is the first ``n`` rows. A view handed out earlier stays valid and unchanged:
    appends write past its end, and a grown buffer is a new one.
    """

    def __init__(self, rows: np.ndarray, room: int = 0):
        """Hold ``rows`` (not copied when ``room`` is 0), or a copy of them with space for ``room`` more."""
        if room:
            self._buf = np.empty((len(rows) + room, *rows.shape[1:]), rows.dtype)
            self._buf[:len(rows)] = rows
        else:
            self._buf = rows
        self.n = len(rows)

    def __len__(self) -> int:
        return self.n

    def view(self) -> np.ndarray:
        return self._buf[:self.n]

    def append(self, rows: np.ndarray) -> np.ndarray:
        """Append ``rows`` (same dtype and row shape) and return the view of all rows."""
        k = len(rows)
        if self.n + k > len(self._buf):
            grown = np.empty((max(self.n + k, 2 * len(self._buf)), *self._buf.shape[1:]), self._buf.dtype)
            grown[:self.n] = self._buf[:self.n]
            self._buf = grown
        self._buf[self.n:self.n + k] = rows
        self.n += k
        return self.view()


def runs(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The indices of every run ``starts[i] .. starts[i] + counts[i] - 1``, concatenated in order."""
    return np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))


def appended(growing: GrowingArray | None, current: np.ndarray, rows: np.ndarray) -> tuple[GrowingArray, np.ndarray]:
    """``current`` with ``rows`` after it, in ``growing``'s room when ``current`` is its latest view
    (else a fresh buffer: appending to an older view would overwrite rows another holder sees)."""
    rows = np.asarray(rows, current.dtype).reshape(-1, *current.shape[1:])
    if growing is None or growing.n != len(current):
        # One copy, with the room a doubling would give, rather than a copy and then a doubling.
        growing = GrowingArray(current, room=max(len(current), len(rows)))
    return growing, growing.append(rows)


__all__ = ["GrowingArray", "appended", "runs"]
