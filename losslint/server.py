"""`losslint server`: a Language Server (LSP over stdio, on pygls) that publishes the static
pass's findings as diagnostics while the user types, and offers the safe `--fix` rewrites and
`# noqa: LLxxx` as code actions.

The static pass runs in this process (never TensorFlow), on the editor's text, after a short
debounce so that a burst of keystrokes is linted once. Configuration is the CLI's: the
`[tool.losslint]` (or losslint.toml) found upward from each file, re-read when it changes.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from losslint import __version__, registry, suppression
from losslint.config import Config, ConfigError, find_config_file, load
from losslint.findings import Finding, Severity
from losslint.fixes import FIXERS
from losslint.static.linter import lint_source

SOURCE = "losslint"
# Long enough to lint a burst of keystrokes once, short enough to stay within the 250 ms the
# diagnostics of an edited file should take (bench/server_latency.py measures it).
DEBOUNCE_SECONDS = 0.05
FIX_ALL_KIND = "source.fixAll.losslint"
_SEVERITY = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFO: types.DiagnosticSeverity.Information,
}


@dataclass
class _ConfigEntry:
    stamp: tuple[str, float] | None  # the config file and its mtime; None: no file
    config: Config
    error: str | None = None


@dataclass
class _State:
    """What the server keeps between messages: pending lints and read configurations."""

    pending: dict[str, asyncio.Task] = field(default_factory=dict)
    configs: dict[Path, _ConfigEntry] = field(default_factory=dict)
    reported_errors: set[str] = field(default_factory=set)


class LossLintServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(
            "losslint", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental
        )
        self.state = _State()

    def config_for(self, path: Path) -> Config:
        """The configuration the CLI would use for `path`, re-read when its file changes."""
        folder = path.parent
        found = find_config_file(folder) if folder.is_dir() else None
        stamp = (str(found), found.stat().st_mtime) if found is not None else None
        cached = self.state.configs.get(folder)
        if cached is None or cached.stamp != stamp:
            try:
                cached = _ConfigEntry(stamp, load(found) if found is not None else Config())
            except ConfigError as error:
                cached = _ConfigEntry(stamp, Config(), str(error))
            self.state.configs[folder] = cached
        if cached.error and cached.error not in self.state.reported_errors:
            self.state.reported_errors.add(cached.error)
            self.window_show_message(types.ShowMessageParams(
                types.MessageType.Error, f"losslint: {cached.error}; linting with the defaults"
            ))
        return cached.config


def document_path(uri: str) -> Path:
    """The file behind a document; an unsaved buffer lints as `untitled.py` in the cwd."""
    path = to_fs_path(uri) if uri.startswith("file:") else None
    return Path(path) if path else Path.cwd() / "untitled.py"


def findings_for(path: Path, source: str, config: Config) -> list[Finding]:
    """The static pass's findings on the editor's text, as the CLI would report them."""
    if config.is_excluded(path, path.parent):
        return []
    return lint_source(str(path), source, config, config.ignored_for(path)).findings


def _position(lines: list[str], line: int, column: int, server: LanguageServer) -> types.Position:
    """A finding's 1-based line and character column, in the client's position encoding."""
    index = min(max(line - 1, 0), max(len(lines) - 1, 0))
    text = lines[index] if lines else ""
    character = min(max(column - 1, 0), len(text))
    return server.workspace.position_codec.position_to_client_units(lines, types.Position(index, character))


def diagnostic(finding: Finding, lines: list[str], server: LanguageServer) -> types.Diagnostic:
    rule = registry.get(finding.code)
    start = _position(lines, finding.line, finding.column, server)
    end = _position(lines, finding.end_line, finding.end_column, server)
    if (end.line, end.character) < (start.line, start.character):
        end = start
    related = [
        types.DiagnosticRelatedInformation(
            types.Location(from_fs_path(os.path.abspath(r.path)) or r.path, types.Range(
                types.Position(max(r.line - 1, 0), max(r.column - 1, 0)),
                types.Position(max(r.line - 1, 0), max(r.column - 1, 0)),
            )),
            r.message,
        )
        for r in finding.related
    ]
    return types.Diagnostic(
        range=types.Range(start, end),
        message=f"{finding.message}\nfix: {finding.fix}",
        severity=_SEVERITY[finding.severity],
        code=finding.code,
        code_description=types.CodeDescription(href=rule.page_url) if rule is not None else None,
        source=SOURCE,
        related_information=related or None,
        data={"fix": finding.fix, "line": finding.line, "column": finding.column, "fixable": finding.code in FIXERS},
    )


async def _lint_later(ls: LossLintServer, uri: str, delay: float) -> None:
    await asyncio.sleep(delay)
    document = ls.workspace.get_text_document(uri)
    version, source = document.version, document.source
    path = document_path(uri)
    config = ls.config_for(path)
    loop = asyncio.get_running_loop()
    # A thread keeps the server answering (code actions, the next change) while it lints.
    findings = await loop.run_in_executor(ls.thread_pool, findings_for, path, source, config)
    current = ls.workspace.get_text_document(uri)
    if current.version != version:
        return  # edited meanwhile: the lint scheduled by that edit publishes
    lines = source.splitlines()
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
        uri=uri, version=version, diagnostics=[diagnostic(f, lines, ls) for f in findings],
    ))


def _schedule(ls: LossLintServer, uri: str, delay: float) -> None:
    if not _is_python(uri):
        return
    previous = ls.state.pending.pop(uri, None)
    if previous is not None:
        previous.cancel()
    task = asyncio.ensure_future(_lint_later(ls, uri, delay))
    ls.state.pending[uri] = task
    task.add_done_callback(lambda done: ls.state.pending.pop(uri, None) if ls.state.pending.get(uri) is done else None)


def _is_python(uri: str) -> bool:
    return uri.endswith((".py", ".pyi")) or not uri.startswith("file:")


def _replace_edit(uri: str, old: str, new: str, version: int | None) -> types.WorkspaceEdit:
    """One edit over the lines that differ between `old` and `new` (not the whole document, so
    that the editor keeps the cursor and folds elsewhere)."""
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end_a, end_b = len(a), len(b)
    while end_a > start and end_b > start and a[end_a - 1] == b[end_b - 1]:
        end_a, end_b = end_a - 1, end_b - 1
    edit = types.TextEdit(
        range=types.Range(types.Position(start, 0), types.Position(end_a, 0)), new_text="".join(b[start:end_b])
    )
    return types.WorkspaceEdit(document_changes=[
        types.TextDocumentEdit(types.OptionalVersionedTextDocumentIdentifier(uri, version), [edit])
    ])


def code_actions(
    ls: LossLintServer, uri: str, diagnostics: list[types.Diagnostic], only: list[str] | None,
) -> list[types.CodeAction]:
    from losslint.fixes.engine import fix_source  # the fix engine only when a fix is asked for

    document = ls.workspace.get_text_document(uri)
    source, path = document.source, document_path(uri)
    config = ls.config_for(path)
    disabled = config.ignored_for(path)
    ours = [d for d in diagnostics if d.source == SOURCE and isinstance(d.data, dict)]
    actions: list[types.CodeAction] = []
    wants = (lambda kind: not only or any(kind == o or kind.startswith(o + ".") for o in only))
    if wants(types.CodeActionKind.QuickFix):
        for d in ours:
            code, line, column = str(d.code), int(d.data["line"]), int(d.data["column"])
            if d.data.get("fixable"):
                fixed = fix_source(
                    str(path), source, config, disabled,
                    only=lambda f, code=code, line=line, column=column: (f.code, f.line, f.column) == (code, line, column),
                )
                if fixed.text != source:
                    actions.append(types.CodeAction(
                        title=f"losslint: {d.data['fix']}", kind=types.CodeActionKind.QuickFix,
                        diagnostics=[d], is_preferred=True, edit=_replace_edit(uri, source, fixed.text, document.version),
                    ))
            if code == "LL001":
                continue  # a file that does not parse: no comment makes it parse
            insertion = suppression.noqa_insertion(source, line, code)
            if insertion is not None:
                at = _position(source.splitlines(), line, insertion[0] + 1, ls)
                actions.append(types.CodeAction(
                    title=f"losslint: disable {code} for this line", kind=types.CodeActionKind.QuickFix,
                    diagnostics=[d], edit=types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(
                        types.OptionalVersionedTextDocumentIdentifier(uri, document.version),
                        [types.TextEdit(types.Range(at, at), insertion[1])],
                    )]),
                ))
    if wants(FIX_ALL_KIND) and (only or any(d.data.get("fixable") for d in ours)):
        fixed = fix_source(str(path), source, config, disabled)
        if fixed.text != source:
            actions.append(types.CodeAction(
                title=f"losslint: fix all safely fixable problems ({len(fixed.fixed)})", kind=FIX_ALL_KIND,
                edit=_replace_edit(uri, source, fixed.text, document.version),
            ))
    return actions


def build() -> LossLintServer:
    server = LossLintServer()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: LossLintServer, params: types.DidOpenTextDocumentParams) -> None:
        _schedule(ls, params.text_document.uri, 0.0)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: LossLintServer, params: types.DidChangeTextDocumentParams) -> None:
        _schedule(ls, params.text_document.uri, DEBOUNCE_SECONDS)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: LossLintServer, params: types.DidSaveTextDocumentParams) -> None:
        _schedule(ls, params.text_document.uri, 0.0)  # a config file may have changed too

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: LossLintServer, params: types.DidCloseTextDocumentParams) -> None:
        task = ls.state.pending.pop(params.text_document.uri, None)
        if task is not None:
            task.cancel()
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL_KIND]),
    )
    def code_action(ls: LossLintServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        return code_actions(ls, params.text_document.uri, list(params.context.diagnostics), params.context.only)

    return server


def serve() -> None:
    """Speak LSP on stdin/stdout until the client says exit."""
    build().start_io()
