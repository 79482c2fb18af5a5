"""From string cells to typed staging batches: `_row_number`, `time`, then the data columns.

Typing rule. Staging holds "typed columns as received": a column is Float64 when its values
are numbers, String otherwise. Files are streamed, so the type is fixed before the first
batch from the sampled head (the first megabyte) and the registry: a mapped column is always
Float64 (a measurement must be a number), an unmapped one is Float64 when every sampled value
parses as a number, including an all-empty sample. A later value that does not fit a Float64
column is an error at its exact row and column rather than a silent null or a type change.

Values are parsed, not judged: `-2.14748e+008`, `5.3e+36`, `7.34011e-008` and all-zero rows
load as they are (quality flags come later). Empty and whitespace-only cells are null. Where
the delimiter makes both decimal marks unambiguous (`;`, tab, `|`: see
`detect.marks_interchangeable`) a cell may use either mark, each read as written; elsewhere a
value with the other mark is an error (in a `,` file `1,500` could be a thousands separator).
Cells read with the mark that is not the file's own are counted (`BatchConverter.other_marks`).
Rows without any content (blank lines, or only delimiters) are dropped; every other row keeps
its line number, so the gaps in `_row_number` show exactly which lines were dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from greenhouse_assets.ingest.errors import IngestError
from greenhouse_assets.ingest.timestamps import Localizer, TimestampLayout, parse

TIME_DTYPE = pl.Datetime("us", "UTC")


@dataclass(frozen=True)
class ColumnPlan:
    position: int  # 0-based column index in the file
    staged: str
    original: str
    numeric: bool


def position_name(position: int) -> str:
    """Internal name of a file column in string frames (staged names are not yet unique)."""
    return f"c{position}"


def number(column: pl.Expr, decimal: str, both: bool = False) -> pl.Expr:
    """Text to Float64 (null where it is not a number with the file's mark; with `both`, with either
    mark: a cell holding two marks, or one twice, still fails the cast)."""
    text = column.str.strip_chars()
    if both:
        text = text.str.replace(",", ".", literal=True)
    elif decimal == ",":
        text = (
            pl.when(text.str.contains(".", literal=True)).then(None).otherwise(text.str.replace(",", ".", literal=True))
        )
    return text.cast(pl.Float64, strict=False)


def numeric_columns(frame: pl.DataFrame, positions: Sequence[int], decimal: str, both: bool = False) -> list[bool]:
    """For each position: does every non-empty sampled value parse as a number?"""
    if frame.height == 0:
        return [True] * len(positions)
    checks = frame.select(
        (
            (pl.col(position_name(p)).str.strip_chars().fill_null("") == "")
            | number(pl.col(position_name(p)), decimal, both).is_not_null()
        )
        .all()
        .alias(str(i))
        for i, p in enumerate(positions)
    )
    return list(checks.row(0))


def schema_for(plans: Sequence[ColumnPlan]) -> dict[str, pl.DataType]:
    return {
        "_row_number": pl.Int64(),
        "time": TIME_DTYPE,
        **{p.staged: pl.Float64() if p.numeric else pl.String() for p in plans},
    }


class BatchConverter:
    def __init__(
        self,
        path: Path,
        layout: TimestampLayout,
        localizer: Localizer,
        plans: list[ColumnPlan],
        decimal: str,
        both: bool = False,
    ) -> None:
        self.path, self.layout, self.localizer = path, layout, localizer
        self.plans, self.decimal, self.both = plans, decimal, both
        self.other_marks = 0  # numeric cells read with the mark that is not `decimal` (only with `both`)

    def convert(self, frame: pl.DataFrame, row_numbers: pl.Series) -> pl.DataFrame:
        """`frame`: one column per file column (`c<position>`), one row per line; strings, or Float64
        where the CSV parser already converted a numeric column."""
        content = frame.select(
            pl.any_horizontal(
                pl.col(c).is_not_null()
                if frame.schema[c] == pl.Float64
                else pl.col(c).str.strip_chars().fill_null("") != ""
                for c in frame.columns
            )
        )
        keep = content.to_series()
        if not keep.all():
            frame, row_numbers = frame.filter(keep), row_numbers.filter(keep)
        rows = row_numbers.cast(pl.Int64).alias("_row_number")
        times = parse(self.path, frame, self.layout, rows)
        times = self.localizer.to_utc(times, rows).cast(TIME_DTYPE).alias("time")
        typed = frame.select(self._expr(plan, frame.schema) for plan in self.plans)
        self._check_numbers(frame, typed, rows)
        return typed.insert_column(0, times).insert_column(0, rows)

    def _expr(self, plan: ColumnPlan, schema: pl.Schema) -> pl.Expr:
        column = pl.col(position_name(plan.position))
        if schema[position_name(plan.position)] == pl.Float64:
            return column.alias(plan.staged)
        if plan.numeric:
            return number(column, self.decimal, self.both).alias(plan.staged)
        blank = column.str.strip_chars().fill_null("") == ""
        return pl.when(blank).then(None).otherwise(column).alias(plan.staged)

    def _check_numbers(self, frame: pl.DataFrame, typed: pl.DataFrame, rows: pl.Series) -> None:
        first_bad = None
        for plan in self.plans:
            raw = frame.get_column(position_name(plan.position))
            if not plan.numeric or raw.dtype == pl.Float64:
                continue
            value = typed.get_column(plan.staged)
            bad = (raw.str.strip_chars() != "") & value.is_null()
            bad = bad.fill_null(False)
            if self.both:  # the fast parser read every cell of the file's own mark; these are the others
                other = "." if self.decimal == "," else ","
                self.other_marks += int((raw.str.contains(other, literal=True) & value.is_not_null()).sum())
            if bad.any():
                index = bad.arg_true()[0]
                if first_bad is None or index < first_bad[0]:
                    first_bad = (index, plan, raw[index])
        if first_bad is not None:
            index, plan, found = first_bad
            mark = "decimal comma" if self.decimal == "," else "decimal point"
            if self.both:
                mark += " or point" if self.decimal == "," else " or comma"
            raise IngestError(
                self.path, "", row=int(rows[index]), column=plan.original, expected=f"a number with {mark}", found=found
            )
