"""Decoding catalog text line by line: UTF-8 first, cp1252 for a line that is not."""
from __future__ import annotations

import io

from shoprank.rows import TextLines, csv_rows


def test_lines_keep_their_ends_and_the_bom_is_dropped():
    lines = TextLines(io.BytesIO(b"\xef\xbb\xbfa,b\r\n1,2\r3,4\n"))
    assert list(lines) == ["a,b\r\n", "1,2\r", "3,4\n"] and lines.fallback_lines == []


def test_a_line_that_is_not_utf8_is_decoded_as_cp1252_and_counted():
    # 0x92 is cp1252's right quote; 0x81 has no cp1252 character, so that line falls to latin-1.
    lines = TextLines(io.BytesIO("ok ü\n".encode() + b"it\x92s\n" + b"x\x81y\n"))
    assert list(lines) == ["ok ü\n", "it\u2019s\n", "x\x81y\n"]
    assert lines.fallback_lines == [2, 3]


def test_csv_rows_number_a_multiline_cell_from_where_its_row_starts():
    rows = list(csv_rows(TextLines(io.BytesIO(b'id,text\n1,"two\nlines"\n2,caf\xe9\n'))))
    assert rows == [(2, {"id": "1", "text": "two\nlines"}), (4, {"id": "2", "text": "café"})]
