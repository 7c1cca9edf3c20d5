"""Read dataset CSVs with pandas, turning every way a file can be broken into a one-line DataError.

pandas is imported by the functions that read, not here: every command imports :mod:`emoscope.data` (the label
sets), and importing pandas takes about half a second that only the commands reading a CSV need.

Row numbers in messages are 1-based *data* rows: row 1 is the first line after the header.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from emoscope.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

GZIP_MAGIC = b"\x1f\x8b"
MAX_COLUMNS_NAMED = 12
_DIGITS = r"\s*[0-9]+\s*"


def one_line(text: object, limit: int = 160) -> str:
    """Squash an exception message or cell value into a short single line for an error message."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def require_file(path: str | Path, what: str) -> Path:
    """``path`` as a Path, or DataError ``"<what> not found: <path>"``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what} not found: {path}")
    return path


def _is_gzip(path: Path) -> bool:
    # Sniff the magic bytes rather than trust the extension: a renamed file still loads.
    with path.open("rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def read_csv(path: str | Path, required: Sequence[str], what: str, dtype=None) -> pd.DataFrame:
    """Read a plain or gzipped CSV that must have the ``required`` columns and at least one row.

    ``what`` names the dataset in the not-found message (``"FER2013 CSV"``). Empty cells stay
    ``""`` (never NaN) so that validators see exactly what was in the file.
    """
    import pandas as pd

    path = require_file(path, what)
    try:
        table = pd.read_csv(
            path, dtype=dtype, keep_default_na=False, compression="gzip" if _is_gzip(path) else None
        )
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: empty file, expected a CSV with columns {_some(required)}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text CSV (contains bytes that are not UTF-8)") from None
    except ValueError as exc:  # pandas' ParserError and its relatives
        raise DataError(f"{path}: not a valid CSV ({one_line(exc)})") from None
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise DataError(f"{path}: cannot read ({one_line(exc)})") from None
    columns = [str(c) for c in table.columns]
    missing = [c for c in required if c not in columns]
    if missing:
        found = _some([one_line(c, 30) for c in columns])
        raise DataError(f"{path}: missing column(s) {_some(missing)}; found: {found}")
    if table.empty:
        raise DataError(f"{path}: no data rows (only a header)")
    return table


def _some(names: list[str]) -> str:
    """The first few names and how many more: a wrong file can lack all 785 of Sign MNIST's columns."""
    more = f" (+{len(names) - MAX_COLUMNS_NAMED} more)" if len(names) > MAX_COLUMNS_NAMED else ""
    return ", ".join(names[:MAX_COLUMNS_NAMED]) + more


def _as_numbers(column: pd.Series) -> pd.Series:
    """Numeric cells as they are; text cells only when plain decimal digits (no sign, point or exponent)."""
    import pandas as pd

    if pd.api.types.is_integer_dtype(column) or pd.api.types.is_float_dtype(column):
        return column
    text = column.astype(str)
    return pd.to_numeric(text.where(text.str.fullmatch(_DIGITS)), errors="coerce")


def integer_columns(
    table: pd.DataFrame, columns: Sequence[str], path: Path, low: int, high: int
) -> np.ndarray:
    """``table[columns]`` as an int64 ``(N, len(columns))`` array, every value an integer in low..high.

    Raises DataError naming the first offending row, column and value.
    """
    numbers = table[list(columns)].apply(_as_numbers).to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(numbers) | (numbers != np.round(numbers)) | (numbers < low) | (numbers > high)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        value = table[columns[col]].iat[row]
        shown = repr(value) if isinstance(value, str) else str(value)  # quotes show blanks in text cells
        raise DataError(
            f"{path}: row {row + 1}: {columns[col]} is {one_line(shown, 40)}, "
            f"expected an integer in {low}..{high}"
        )
    return numbers.astype(np.int64)
