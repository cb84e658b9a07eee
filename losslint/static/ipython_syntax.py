"""One notebook cell read as IPython reads it, turned into plain Python line for line.

IPython (`IPython.core.inputtransformer2`, which Jupyter kernels run on every cell) accepts more
than Python:
- a cell whose first line is indented is dedented by that line's indentation;
- pasted prompts (`>>> `, `... `, `In [3]: `, `   ...: `) are stripped;
- a first line `%%name ...` makes the whole cell a cell magic's input (`%%time`, `%%bash`);
- at the start of a logical line (not inside brackets, a string or a backslash continuation),
  `!cmd`, `!!cmd`, `%magic`, `?obj`, `??obj` and the autocall escapes `,f a`, `;f a`, `/f a`
  take the whole line, and its backslash-continued lines;
- `x = !cmd` and `x = %magic ...` (the first `=` outside brackets) assign their result;
- a logical line ending in `obj?` or `obj??` asks for help.

Here each source line of the cell becomes one line of Python (so every position maps back):
a magic or shell line becomes blank (`pass` where it is indented, to keep its block), the
statement given to `%time`/`%timeit`/`%prun` is kept (IPython runs it in the user's namespace),
and so is the body of a cell magic that runs Python (`%%time`, `%%capture`, ...). The body of
any other cell magic (`%%bash`, `%%writefile`, a user's own) is not Python: blank. Where text is
removed before a kept part of a line, the `cuts` say how many characters, so that columns map
back too. Both passes use this: the static pass lints the result, the dynamic pass runs it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Cell magics whose body IPython runs as Python in the user's namespace.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug", "memit"})
# Line magics whose argument is a statement run in the user's namespace, with the options that
# may come before it (`%timeit -n 10 -r 3 f()`): the statement is kept, the rest cut.
_STATEMENT_MAGICS = {
    "time": re.compile(r""),
    "timeit": re.compile(r"(?:-(?:[nrp]\s*\d+|[tcqo])\s+)*"),
    "prun": re.compile(r"(?:-(?:[lsTD]\s*\S+|[rq])\s+)*"),
}
# Magics whose result, assigned (`files = %sx ls`, `files = !ls`), is a list of output lines.
_LIST_MAGICS = frozenset({"sx", "system"})
_ESCAPES = ("!", "?", "%", ",", ";", "/")
_INDENT = re.compile(r"[ \t\f]*")
_CLASSIC_FIRST = re.compile(r">>>( |$)")
_CLASSIC = re.compile(r"(>>>|\.\.\.)( |$)")
_IPYTHON_PROMPT = re.compile(r"In \[\d+\]: |\s*\.{3,}: ?")
_HELP_END = re.compile(r"%{0,2}[a-zA-Z_*][\w*]*(\.[a-zA-Z_*][\w*]*)*\?\??$")
_CELL_HELP = re.compile(r"%%\w+\?")
_MAGIC_NAME = re.compile(r"%[A-Za-z_]")
# What changes the state of a line scan: a comment, a string, a bracket, an `=`.
_CODE = re.compile(r"[#'\"()\[\]{}=]")
# The end of a string that is open at `position` (a backslash escapes any character, also in raw strings).
_STRING_END = {quote: re.compile(r"(?:[^\\]|\\.)*?" + re.escape(quote)) for quote in ("'", '"', "'''", '"""')}
# A cell without these characters has no IPython syntax past its first line.
_SPECIAL = re.compile(r"[!%?]|^[ \t\f]*[,;/]", re.MULTILINE)
# Characters before an `=` that make it part of an operator (`==`, `<=`, `+=`, `:=`, ...).
_OPERATOR_BEFORE_EQUAL = frozenset("=<>!+-*/%&|^@:~")


@dataclass(frozen=True)
class Line:
    """The Python that stands for one source line of a cell."""

    code: str
    # (column in `code`, characters of the source line removed there), left to right: a column
    # c of `code` (0-based) was column c + the widths of the cuts at or before c in the cell.
    cuts: tuple[tuple[int, int], ...] = ()


def source_column(cuts: tuple[tuple[int, int], ...], column: int, end: bool = False) -> int:
    """The 0-based column of the source line that `column` of a `Line.code` with these `cuts`
    came from (`end`: an exclusive end, which stays before a cut made right at it)."""
    return column + sum(width for at, width in cuts if (column > at if end else column >= at))


def transform(lines: list[str]) -> list[Line]:
    """The cell's source lines (without line ends) as Python, one `Line` for each."""
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return [Line(line) for line in lines]
    cuts: list[tuple[tuple[int, int], ...]] = [()] * len(lines)
    text = list(lines)
    indent = _INDENT.match(text[first]).group()
    if indent:  # IPython removes the first line's indentation from every line that has it
        for i, line in enumerate(text):
            if line.startswith(indent):
                text[i], cuts[i] = line[len(indent):], ((0, len(indent)),)
    for initial, prompt in ((_CLASSIC_FIRST, _CLASSIC), (_IPYTHON_PROMPT, _IPYTHON_PROMPT)):
        second = text[first + 1] if first + 1 < len(text) else ""
        if initial.match(text[first]) or prompt.match(second):
            for i, line in enumerate(text):
                found = prompt.match(line)
                if found and found.end():
                    text[i] = line[found.end():]
                    cuts[i] = (*cuts[i], (0, found.end()))
    head = text[first]
    if head.startswith("%%") and not _CELL_HELP.match(head):
        out = [Line("") for _ in lines]  # the magic's line, and a body that is not Python
        if head[2:].split(" ", 1)[0].strip() in PYTHON_CELL_MAGICS:
            body = transform(text[first + 1:])
            for offset, line in enumerate(body, start=first + 1):
                out[offset] = Line(line.code, cuts[offset] + line.cuts)
        return out
    # The cuts made at column 0 first, then those made on the shortened line.
    return [Line(line.code, cuts[i] + line.cuts) for i, line in enumerate(_statements(text))]


def _statements(lines: list[str]) -> list[Line]:
    if not _SPECIAL.search("\n".join(lines)):
        return [Line(line) for line in lines]
    out: list[Line] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        indent = _INDENT.match(line).group()
        if line[len(indent):].startswith(_ESCAPES):
            end = _backslash_end(lines, i)
            out.extend(_escaped(lines[i:end + 1], indent))
            i = end + 1
            continue
        scan = _Scan(lines, i)
        if scan.assign is not None:
            row, column = scan.assign
            out.extend(Line(text) for text in lines[i:row])
            end = _backslash_end(lines, row)
            out.extend(_assigned(lines[row:end + 1], column))
            i = end + 1
            continue
        logical = lines[i:scan.end + 1]
        if scan.help_end and _HELP_END.search(" ".join(part.strip() for part in logical)):
            out.append(Line(f"{indent}pass" if indent else ""))
            out.extend(Line("") for _ in logical[1:])
        else:
            out.extend(Line(text) for text in logical)
        i = scan.end + 1
    return out


def _backslash_end(lines: list[str], start: int) -> int:
    """The last line of the backslash-continued line that starts at `start`."""
    end = start
    while lines[end].endswith("\\") and end + 1 < len(lines):
        end += 1
    return end


def _escaped(lines: list[str], indent: str) -> list[Line]:
    """`!cmd`, `%magic ...`, `?obj` (and their continuation lines) at the start of a line."""
    text = lines[0][len(indent):]
    if text.startswith("%") and not text.startswith("%%"):
        name, _, arguments = text[1:].partition(" ")
        options = _STATEMENT_MAGICS.get(name)
        if options is not None:
            statement = arguments.lstrip()
            statement = statement[options.match(statement).end():]
            if statement.strip():  # `%time model.fit(...)`: IPython runs the statement
                removed = len(text) - len(statement)
                return [Line(indent + statement, ((len(indent), removed),)), *(Line(line) for line in lines[1:])]
    return [Line(f"{indent}pass" if indent else ""), *(Line("") for _ in lines[1:])]


def _assigned(lines: list[str], column: int) -> list[Line]:
    """`lhs = !cmd` or `lhs = %magic ...` (the escape at `column` of the first line)."""
    head, text = lines[0][:column], lines[0][column:]
    rest = [Line("") for _ in lines[1:]]
    if text.startswith("%"):
        name, _, arguments = text[1:].partition(" ")
        if name == "time" and arguments.strip():  # `x = %time f()`: x is f()'s value
            statement = arguments.lstrip()
            return [Line(head + statement, ((column, len(text) - len(statement)),)), *(Line(line) for line in lines[1:])]
        if name not in _LIST_MAGICS:
            return [Line(head + "None"), *rest]
    return [Line(head + "[]"), *rest]  # a shell command's output: a list of lines


class _Scan:
    """One logical line of Python from lines[start]: where it ends, whether it is `x = !cmd` /
    `x = %magic` (`assign`: the escape's line and column) and whether it ends in `?`."""

    def __init__(self, lines: list[str], start: int) -> None:
        self.end = start
        self.assign: tuple[int, int] | None = None
        self.help_end = False
        depth = 0
        quote = ""
        seen_equal = False
        for row in range(start, len(lines)):
            line = lines[row]
            self.end = row
            position = 0
            code_from = 0  # where the code after the last string closed on this line starts
            last = ""  # the last character of code (a string's closing quote counts)
            comment = None
            while True:
                if quote:
                    closed = _STRING_END[quote].match(line, position)
                    if closed is None:
                        break  # the string goes on past this line
                    position = code_from = closed.end()
                    last, quote = quote[-1], ""
                    continue
                found = _CODE.search(line, position)
                if found is None:
                    break
                char, column = found.group(), found.start()
                position = column + 1
                if char == "#":
                    comment = column
                    break
                if char in "'\"":
                    quote = line[column:column + 3] if line[column:column + 3] in ('"""', "'''") else char
                    position = column + len(quote)
                elif char in "([{":
                    depth += 1
                elif char in ")]}":
                    depth = max(depth - 1, 0)
                elif depth == 0 and not seen_equal and _bare_equal(line, column):
                    seen_equal = True
                    after = len(line) - len(line[column + 1:].lstrip(" \t"))
                    rest = line[after:]
                    if (rest.startswith("!") and not line.strip().startswith("=")) or _MAGIC_NAME.match(rest):
                        self.assign = (row, after)
                        return
            if quote:
                if len(quote) > 1 or line.endswith("\\"):
                    continue  # a triple-quoted string, or a backslash inside a one-line string
                quote = ""  # an unterminated string ends with its line (a syntax error)
            tail = line[code_from:comment].rstrip()
            last = tail[-1] if tail else last
            if (comment is None and line.endswith("\\")) or depth > 0:
                continue
            self.help_end = last == "?" and comment is None
            return


def _bare_equal(line: str, column: int) -> bool:
    """The `=` at `column` is an assignment, not part of `==`, `<=`, `+=`, `:=`, ..."""
    before = line[column - 1] if column else ""
    after = line[column + 1] if column + 1 < len(line) else ""
    return after != "=" and before not in _OPERATOR_BEFORE_EQUAL
