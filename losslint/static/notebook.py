"""Jupyter notebooks: the code cells, in order, linted as one program.

IPython magics (`%time`, `%%capture` cells), shell lines (`!pip install ...`) and help lines
(`model?`) are not Python: they become blank lines (or `pass` inside a block), so the line
numbers of everything else are kept. Each line of the program maps back to its cell, its line
in the cell, and its line in the .ipynb file (for SARIF and GitHub annotations).
"""

from __future__ import annotations

import dataclasses
import json
import textwrap
from dataclasses import dataclass

from losslint.findings import Finding


@dataclass(frozen=True)
class Place:
    cell: int  # 1-based, counting code cells only (as `ruff` numbers notebook cells)
    line: int  # 1-based line in the cell
    file_line: int | None  # 1-based line of the .ipynb file holding that source line


@dataclass
class Notebook:
    source: str
    places: list[Place]  # one per line of `source`
    cells: dict[int, list[str]]  # cell number -> its lines, for showing the source

    def place(self, line: int) -> Place:
        return self.places[min(max(line, 1), len(self.places)) - 1]

    def map_finding(self, finding: Finding) -> Finding:
        start, end = self.place(finding.line), self.place(finding.end_line)
        end_column = finding.end_column if end.cell == start.cell else len(self.cells[start.cell][start.line - 1]) + 1
        related = tuple(
            dataclasses.replace(r, line=self.place(r.line).line, message=f"cell {self.place(r.line).cell}: {r.message}")
            for r in finding.related
        )
        scope = self.place(finding.scope_line).line if finding.scope_line else None
        return dataclasses.replace(
            finding, line=start.line, end_line=end.line if end.cell == start.cell else start.line,
            end_column=end_column, cell=start.cell, file_line=start.file_line, related=related,
            scope_line=scope,
        )


# Cell magics whose body IPython runs as Python.
_PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug"})


def _is_magic(line: str) -> bool:
    stripped = line.strip()
    return stripped.startswith(("%", "!")) or (stripped.endswith("?") and not stripped.startswith("#"))


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
        magic = lines[0].strip()[2:].split(" ")[0] if lines[0].lstrip().startswith("%%") else None
        python_body = magic in _PYTHON_CELL_MAGICS
        file_lines, search_from = _file_lines(raw_lines, lines, search_from)
        code: list[str] = []
        for index, line in enumerate(lines):
            if magic is not None and (index == 0 or not python_body):
                line = ""  # `%%bash`, `%%writefile`, a user's own magic: not Python
            elif _is_magic(line):
                indent = line[: len(line) - len(line.lstrip())]
                line = f"{indent}pass" if indent else ""
            code.append(line)
            places.append(Place(number, index + 1, file_lines[index]))
        first = next((line for line in code if line.strip()), "")
        if first[:1].isspace():  # a cell indented as a whole: IPython dedents it
            code = textwrap.dedent("\n".join(code)).split("\n")
        program.extend(code)
    return Notebook("\n".join(program) + "\n", places or [Place(1, 1, None)], cells or {1: [""]})


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
