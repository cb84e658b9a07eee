"""Jupyter notebooks: the code cells, in order, linted (and run) as one program.

Each cell is read as IPython reads it (`ipython_syntax`: magics, shell and help lines, cell
magics, indented cells), line for line, so each line of the program maps back to its cell, its
line and column in the cell, and its line in the .ipynb file (for SARIF and GitHub annotations).
A cell that still does not parse is left out of the program (blank lines), as IPython runs the
other cells: the static pass reports it (LL001 at that cell) and lints the others.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
import warnings
from dataclasses import dataclass, field

from losslint.findings import Finding
from losslint.static import ipython_syntax


# How the static rules name a line of the file in their messages.
_LINE = re.compile(r"\bline (\d+)\b")


@dataclass(frozen=True)
class Place:
    cell: int  # 1-based, counting code cells only (as `ruff` numbers notebook cells)
    line: int  # 1-based line in the cell
    file_line: int | None  # 1-based line of the .ipynb file holding that source line
    # Characters of the source line removed before parts of the program's line (a magic, an
    # indentation IPython strips): (column in the program's line, width), as ipython_syntax.Line.
    cuts: tuple[tuple[int, int], ...] = ()

    def column(self, column: int, end: bool = False) -> int:
        """The 1-based column in the cell's line of a 1-based column of the program's line."""
        return ipython_syntax.source_column(self.cuts, column - 1, end) + 1


@dataclass(frozen=True)
class BrokenCell:
    """A code cell that does not parse even as IPython reads it; left out of the program."""

    line: int  # 1-based line of the program where the error is (the cell's lines are blank)
    column: int  # 1-based column in the program's line
    message: str


@dataclass
class Notebook:
    source: str
    places: list[Place]  # one per line of `source`
    cells: dict[int, list[str]]  # cell number -> its lines, for showing the source
    broken: list[BrokenCell] = field(default_factory=list)

    def place(self, line: int) -> Place:
        return self.places[min(max(line, 1), len(self.places)) - 1]

    def in_cells(self, text: str) -> str:
        """A static finding's text with each `line N` of the program said as `cell C, line L`."""

        def cell_line(match: re.Match[str]) -> str:
            place = self.place(int(match.group(1)))
            return f"cell {place.cell}, line {place.line}"

        return _LINE.sub(cell_line, text)

    def map_finding(self, finding: Finding) -> Finding:
        start, end = self.place(finding.line), self.place(finding.end_line)
        if end.cell == start.cell:
            end_column = end.column(finding.end_column, end=True)
        else:
            end_column = len(self.cells[start.cell][start.line - 1]) + 1
        related = tuple(
            dataclasses.replace(
                r, line=self.place(r.line).line, column=self.place(r.line).column(r.column),
                message=f"cell {self.place(r.line).cell}: {r.message}",
            )
            for r in finding.related
        )
        scope = self.place(finding.scope_line).line if finding.scope_line else None
        return dataclasses.replace(
            finding, line=start.line, column=start.column(finding.column),
            end_line=end.line if end.cell == start.cell else start.line,
            end_column=end_column, cell=start.cell, file_line=start.file_line, related=related,
            scope_line=scope,
        )


def read(data: bytes) -> Notebook:
    """The notebook's code cells as one program; ValueError when it is not a notebook."""
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"not a Jupyter notebook: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("cells"), list):
        raise ValueError("not a Jupyter notebook: no `cells` list")
    raw_lines = data.decode("utf-8", errors="replace").splitlines()
    search_from = 0
    program: list[str] = []
    broken: list[BrokenCell] = []
    places: list[Place] = []
    cells: dict[int, list[str]] = {}
    number = 0
    for cell in document["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        number += 1
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        lines = text.splitlines() or [""]
        cells[number] = lines
        file_lines, search_from = _file_lines(raw_lines, lines, search_from)
        code = ipython_syntax.transform(lines)
        error = _parse_error("\n".join(line.code for line in code))
        if error is not None:
            row, column, message = error
            broken.append(BrokenCell(len(program) + row, column, message))
            # IPython runs the other cells; the cuts still place the error in the cell's line.
            code = [ipython_syntax.Line("", line.cuts) for line in code]
        for index, line in enumerate(code):
            program.append(line.code)
            places.append(Place(number, index + 1, file_lines[index], line.cuts))
    return Notebook("\n".join(program) + "\n", places or [Place(1, 1, None)], cells or {1: [""]}, broken)


def _parse_error(code: str) -> tuple[int, int, str] | None:
    """Where and why one cell's Python does not parse (IPython compiles each cell alone)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarnings about the user's escapes are not ours
            ast.parse(code)
    except SyntaxError as error:
        lines = code.count("\n") + 1
        return min(max(error.lineno or 1, 1), lines), max(error.offset or 1, 1), error.msg or "invalid syntax"
    except (ValueError, RecursionError, MemoryError) as error:
        return 1, 1, str(error) or "too deeply nested or too large for the parser"
    return None


def _file_lines(raw: list[str], lines: list[str], start: int) -> tuple[list[int | None], int]:
    """Where each source line of a cell sits in the .ipynb file (nbformat writes one JSON string
    per line under "source"); None where it cannot be told."""
    found: list[int | None] = []
    position = start
    for line in lines:
        needle = json.dumps(line)[1:-1]
        hit = None
        for index in range(position, min(len(raw), position + 200)):
            if needle in raw[index]:
                hit = index
                break
        if hit is None:
            found.append(None)
        else:
            found.append(hit + 1)
            position = hit + 1
    return found, position
