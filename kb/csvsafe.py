"""CSV files for Excel that cannot run formulas: every text cell that Excel (or LibreOffice) would read as
a formula is written as text.

Why: a title such as ``=HYPERLINK("http://…")`` or a display name ``@SUM(1+1)*cmd|' /C calc'!A0``
went unchanged into the programme CSV and the curriculum matrix (issue 16, defect 15).  A cell that
begins with ``= + - @`` or a tab or carriage return gets a leading apostrophe, which spreadsheet programs
take as "this is text" (the OWASP advice); numbers stay numbers.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeWriter:
    """csv.writer whose rows are neutralised cell by cell."""

    def __init__(self, out, **kwargs):
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, row: Iterable[Any]):
        return self._writer.writerow([safe_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(out, **kwargs) -> SafeWriter:
    return SafeWriter(out, **kwargs)
