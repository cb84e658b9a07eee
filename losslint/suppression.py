"""Suppression comments: `# noqa`, `# noqa: LL101`, `# losslint: ignore[LL101, reshape-in-loss]`,
`# losslint: skip-file`. Comments are read with the tokenizer, so `#` inside strings never counts.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field

from losslint import registry
from losslint.findings import Finding
from losslint.rules import ll004_unused_suppression

_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[\w\-]+(?:[\s,]+[\w\-]+)*))?", re.IGNORECASE)
_IGNORE = re.compile(r"#\s*losslint:\s*ignore\[(?P<codes>[^\]]*)\]", re.IGNORECASE)
_SKIP_FILE = re.compile(r"#\s*losslint:\s*skip-file\b", re.IGNORECASE)


@dataclass
class Directive:
    """One suppression comment. `codes` None means every code (a bare `# noqa`)."""

    line: int
    column: int
    end_column: int
    codes: tuple[str, ...] | None
    losslint_own: bool  # `# losslint: ignore[...]`, or a noqa naming LL codes
    used: set[str] = field(default_factory=set)


@dataclass
class Suppressions:
    skip_file: bool
    by_line: dict[int, list[Directive]]

    def suppresses(self, finding: Finding) -> bool:
        for line in (finding.line, finding.scope_line):
            for directive in self.by_line.get(line, []) if line is not None else []:
                if directive.codes is None:
                    directive.used.add(finding.code)
                    return True
                for code in directive.codes:
                    rule = registry.get(code)
                    if rule is not None and rule.code == finding.code:
                        directive.used.add(code)
                        return True
        return False

    def unused(self, path: str) -> list[Finding]:
        """LL004 findings: losslint codes in suppression comments that suppressed nothing."""
        rule = ll004_unused_suppression.RULE
        out = []
        for directives in self.by_line.values():
            for d in directives:
                if not d.losslint_own or d.codes is None:
                    continue
                for code in d.codes:
                    if code in d.used:
                        continue
                    known = registry.get(code) is not None
                    what = "suppresses nothing on this line" if known else "is not a losslint rule"
                    out.append(
                        Finding(
                            code=rule.code, name=rule.name, severity=rule.severity, path=path,
                            line=d.line, column=d.column, end_line=d.line, end_column=d.end_column,
                            message=f"suppression of `{code}` {what}",
                            fix=f"remove `{code}` from the comment" if known else f"correct or remove `{code}`",
                        )
                    )
        return out


def _is_ours(code: str) -> bool:
    return code.upper().startswith("LL") or registry.get(code) is not None


def _ours(raw: str | None) -> bool:
    """A `noqa` with these codes concerns losslint: a bare `noqa`, or one that names a rule."""
    return raw is None or any(_is_ours(code) for code in _codes(raw))


def _codes(raw: str) -> tuple[str, ...]:
    return tuple(c for c in re.split(r"[\s,]+", raw.strip()) if c)


def parse(source: str) -> Suppressions:
    skip_file = False
    by_line: dict[int, list[Directive]] = {}
    if not _IGNORE.search(source) and not _SKIP_FILE.search(source) and not any(
        _ours(match["codes"]) for match in _NOQA.finditer(source)
    ):
        # No directive for losslint anywhere, not even in strings (`# noqa: E501` is ruff's):
        # the tokenizer, which tells comments from strings, has nothing to find.
        return Suppressions(skip_file, by_line)
    tokens: list[tokenize.TokenInfo] = []
    try:
        # Token by token: the comments before a tokenizer error (an unclosed bracket reported at
        # the end of the file) still count, so `skip-file` also skips a file that does not parse.
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            tokens.append(token)
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass
    for tok in tokens:
        if tok.type != tokenize.COMMENT:
            continue
        text = tok.string
        line, col = tok.start
        if _SKIP_FILE.search(text):
            skip_file = True
        for match in _IGNORE.finditer(text):
            directive = Directive(line, col + match.start() + 1, col + match.end() + 1, _codes(match["codes"]), True)
            by_line.setdefault(line, []).append(directive)
        for match in _NOQA.finditer(text):
            raw = match["codes"]
            codes = None if raw is None else _codes(raw)
            own = codes is not None and any(_is_ours(c) for c in codes)
            if codes is not None:
                # Codes of other tools (ruff's E501, ...) are none of our business.
                codes = tuple(c for c in codes if _is_ours(c))
                if not codes:
                    continue
            directive = Directive(line, col + match.start() + 1, col + match.end() + 1, codes, own)
            by_line.setdefault(line, []).append(directive)
    return Suppressions(skip_file, by_line)


def noqa_insertion(source: str, line: int, code: str) -> tuple[int, str] | None:
    """Where and what to insert on `line` (1-based) so that a `# noqa` there names `code`: the
    0-based column and the text (`, LL101` added to the line's `# noqa: ...` codes, else
    `  # noqa: LL101` at the end of the line), as ruff's "Disable for this line" does. None when
    the line is already suppressed for `code` (a bare `# noqa`, or the code named)."""
    lines = source.splitlines()
    if not 1 <= line <= len(lines):
        return None
    comment: tokenize.TokenInfo | None = None
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.start[0] > line:
                break
            if token.type == tokenize.COMMENT and token.start[0] == line:
                comment = token
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass
    if comment is not None:
        match = _NOQA.search(comment.string)
        if match is not None:
            codes = match["codes"]
            if codes is None:
                return None
            if any(registry.get(c) is not None and registry.get(c) == registry.get(code) for c in _codes(codes)):
                return None
            return comment.start[1] + match.end("codes"), f", {code}"
    text = lines[line - 1]
    return len(text.rstrip()), f"  # noqa: {code}"
