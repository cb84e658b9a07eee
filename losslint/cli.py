"""Command line: `losslint [check] PATH...`, `losslint rules`, `losslint explain CODE`.

Exit codes, as ruff and flake8 use them: 0 no findings, 1 findings, 2 usage error, bad
configuration or a file that could not be linted. Errors are one line on stderr, never a
traceback (set LOSSLINT_DEBUG=1 to see one).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import click

from losslint import __version__, registry
from losslint.config import Config, ConfigError, find_config_file, load, merged, parse_size
from losslint.findings import Severity
from losslint.reporters import FORMATS, github, json_format, sarif, text
from losslint.runner import RunResult, run

if TYPE_CHECKING:
    from losslint.dynamic.runner import DynamicOptions

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class _DefaultToCheck(click.Group):
    """`losslint PATH...` means `losslint check PATH...` (as `ruff PATH` once meant `ruff check`)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        first = args[0] if args else None
        if first not in self.commands and first not in ("--help", "-h", "--version"):
            args = ["check", *args]
        return super().parse_args(ctx, args)


def _split(values: tuple[str, ...]) -> tuple[str, ...] | None:
    """`--select LL1,LL2 --select LL3` -> ("LL1", "LL2", "LL3"); None when not given."""
    if not values:
        return None
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


def _fail(message: str) -> None:
    click.echo(f"losslint: error: {message}", err=True)
    sys.exit(EXIT_ERROR)


def _use_colour(no_color: bool, output_file: str | None) -> bool:
    if no_color or output_file or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


@click.group(cls=_DefaultToCheck, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="losslint", message="%(prog)s %(version)s")
def cli() -> None:
    """Catch Keras/TensorFlow loss and shape pitfalls before the training run."""


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--select", multiple=True, metavar="CODES", help="Only these rules: codes, names or prefixes (LL1), comma-separated.")
@click.option("--extend-select", multiple=True, metavar="CODES", help="Rules to add to the selection.")
@click.option("--ignore", multiple=True, metavar="CODES", help="Rules to leave out: codes, names or prefixes.")
@click.option("--exclude", multiple=True, metavar="PATTERNS", help="Glob patterns of files and folders to skip, replacing the default and configured ones.")
@click.option("--extend-exclude", multiple=True, metavar="PATTERNS", help="Glob patterns to skip besides the default and configured ones (e.g. '*_test.py').")
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="text", show_default=True, help="Output format.")
@click.option("-o", "--output-file", type=click.Path(dir_okay=False, writable=True), help="Write the report to this file.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), help="Use this pyproject.toml or losslint.toml.")
@click.option("--isolated", is_flag=True, help="Ignore every configuration file.")
@click.option("-q", "--quiet", is_flag=True, help="Print the findings only: no source, no summary.")
@click.option("--no-color", is_flag=True, help="No colour (also when NO_COLOR is set or the output is not a terminal).")
@click.option("--statistics", is_flag=True, help="Print the number of findings per rule.")
@click.option("--stdin-filename", metavar="PATH", help="The name to report standard input (`-`) under.")
@click.option("--warn-unused-suppressions", is_flag=True, default=None, help="Report suppression comments that suppress nothing (LL004).")
@click.option("--conventional-names/--no-conventional-names", default=None, help="Read tf, K, np, keras, layers, Dense, ... as their conventional imports where a file binds them nowhere (snippets, notebook cells).  [default: on]")
@click.option("--dynamic/--no-dynamic", default=None, help="Also run the dynamic pass: run each script up to fit in a sandbox and probe its losses (needs TensorFlow).")
@click.option("--timeout", type=click.FloatRange(min=1), help="Dynamic pass: seconds a script may take to reach fit.  [default: 120]")
@click.option("--max-memory", metavar="SIZE", help="Dynamic pass: memory cap of the script, e.g. 4GiB.  [default: 4GiB]")
@click.option("--device", type=click.Choice(["cpu", "gpu"]), help="Dynamic pass: GPUs are hidden from the script unless gpu.  [default: cpu]")
@click.option("--no-stub-data", is_flag=True, default=None, help="Dynamic pass: let keras.datasets download for real (the network is still blocked).")
@click.option("--script-args", metavar="ARGS", help="Dynamic pass: the script's command-line arguments, as one shell-quoted string.")
@click.option("-j", "--jobs", type=click.IntRange(min=0), help="Processes for the static pass and scripts run in parallel by the dynamic pass (0, the default: one per core).")
@click.option("-v", "--verbose", is_flag=True, help="Show the scripts' own output and timings from the dynamic pass.")
@click.option("--no-cache", is_flag=True, help="Lint every file again instead of reusing the results in .losslint_cache/.")
@click.option("--fix", is_flag=True, help="Apply the safe fixes (static pass only) to the files, then report what remains. With `-`, print the fixed source.")
@click.option("--diff", "show_diff", is_flag=True, help="Print the safe fixes as a unified diff and write nothing; exit 1 when there is something to fix.")
def check(
    paths: tuple[str, ...],
    select: tuple[str, ...],
    extend_select: tuple[str, ...],
    ignore: tuple[str, ...],
    exclude: tuple[str, ...],
    extend_exclude: tuple[str, ...],
    output_format: str,
    output_file: str | None,
    exit_zero: bool,
    config_path: str | None,
    isolated: bool,
    quiet: bool,
    no_color: bool,
    statistics: bool,
    stdin_filename: str | None,
    warn_unused_suppressions: bool | None,
    conventional_names: bool | None,
    dynamic: bool | None,
    timeout: float | None,
    max_memory: str | None,
    device: str | None,
    no_stub_data: bool | None,
    script_args: str | None,
    jobs: int | None,
    verbose: bool,
    no_cache: bool,
    fix: bool,
    show_diff: bool,
) -> None:
    """Lint training scripts: files, folders (recursive *.py) or `-` for standard input."""
    targets = list(paths) or ["."]
    config = _load_config(targets, config_path, isolated, stdin_filename)
    try:
        for option, values in (("--select", select), ("--extend-select", extend_select), ("--ignore", ignore)):
            for selector in _split(values) or ():
                registry.expand(selector)
    except registry.UnknownSelector as error:
        _fail(f"{option}: unknown rule code or name: {error}")
    overrides = {
        "select": _split(select),
        "extend_select": (config.extend_select + _split(extend_select)) if extend_select else None,
        "ignore": (config.ignore + _split(ignore)) if ignore else None,
        "warn_unused_suppressions": warn_unused_suppressions,
        "conventional_names_enabled": conventional_names,
        "exclude": _split(exclude),
        "extend_exclude": (config.extend_exclude + _split(extend_exclude)) if extend_exclude else None,
    }
    config = merged(config, **overrides)
    stdin = None
    if "-" in targets:
        stdin = (stdin_filename or "<stdin>", sys.stdin.buffer.read())  # click.get_binary_stream is deprecated
    if fix or show_diff:
        if dynamic:
            _fail(f"{'--diff' if show_diff else '--fix'} applies the static pass's fixes only: it cannot run with --dynamic")
        fix_jobs = jobs if jobs is not None else int(config.probe.get("jobs", 0))
        _fix(targets, config, stdin, show_diff, output_format, output_file, quiet, no_color, statistics, exit_zero, fix_jobs, no_cache)
    options = None
    if dynamic if dynamic is not None else config.dynamic:
        options = _dynamic_options(config, timeout, max_memory, device, no_stub_data, script_args, jobs)
    static_jobs = jobs if jobs is not None else int(config.probe.get("jobs", 0))
    result = run(targets, config, stdin, options, jobs=static_jobs, no_cache=no_cache)
    if verbose:
        for outcome in result.dynamic:
            verdict = {"fit": "probed on the real batch", "model": "probed on targets made from the outputs"}
            click.echo(
                f"losslint: dynamic: {outcome.path}: {outcome.seconds:.1f} s, peak "
                f"{outcome.peak_rss / 2**20:.0f} MiB, {verdict.get(outcome.verdict, 'no loss probed')}; "
                "script output:", err=True,
            )
            click.echo(outcome.output.rstrip() or "(none)", err=True)
            for detail in outcome.details:
                click.echo(f"losslint: dynamic: {detail}", err=True)
    _report(result, output_format, output_file, quiet, no_color, statistics)
    for note in result.notes:
        click.echo(f"losslint: {note}", err=True)
    for error in result.errors:
        click.echo(f"losslint: error: {error}", err=True)
    if result.errors:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_FINDINGS if _failing(result.findings) and not exit_zero else EXIT_OK)


def _failing(findings: list) -> bool:
    """Errors and warnings fail the run; info findings (LL005) only inform, as pylint's do."""
    return any(f.severity != Severity.INFO for f in findings)


def _findings(count: int) -> str:
    return f"{count} finding{'' if count == 1 else 's'}"


def _fix(
    targets: list[str], config: Config, stdin: tuple[str, bytes] | None, diff_only: bool, output_format: str,
    output_file: str | None, quiet: bool, no_color: bool, statistics: bool, exit_zero: bool, jobs: int, no_cache: bool,
) -> None:
    """`--diff`: the fixes as a unified diff, nothing written (exit 1 when there are some).
    `--fix`: write them, lint again and report what remains (`-`: the fixed source on stdout,
    the report on stderr). The dynamic pass never runs (also when the configuration asks)."""
    from losslint.fixes.engine import fix_paths, write as write_fixes  # only for --fix/--diff: keeps start-up short

    outcome = fix_paths(targets, config, stdin)
    if diff_only:
        for file in outcome.changed:
            click.echo(file.diff(), nl=False)
        if outcome.changed and not quiet:
            click.echo(f"Would fix {_findings(outcome.fixed_findings)}", err=True)
        for error in outcome.errors:
            click.echo(f"losslint: error: {error}", err=True)
        sys.exit(EXIT_ERROR if outcome.errors else EXIT_FINDINGS if outcome.changed else EXIT_OK)
    errors = write_fixes(outcome)
    fixed_stdin = outcome.stdin
    relint = (fixed_stdin.path, fixed_stdin.fixed_bytes()) if fixed_stdin is not None else None
    result = run(targets, config, relint, None, jobs=jobs, no_cache=no_cache)
    if fixed_stdin is not None:
        sys.stdout.flush()
        sys.stdout.buffer.write(fixed_stdin.fixed_bytes())
        sys.stdout.buffer.flush()
    _report(result, output_format, output_file, quiet, no_color, statistics, to_stderr=fixed_stdin is not None)
    if not quiet:
        click.echo(f"Fixed {_findings(outcome.fixed_findings)} ({len(result.findings)} remaining)", err=True)
    for note in result.notes:
        click.echo(f"losslint: {note}", err=True)
    errors = list(dict.fromkeys(result.errors + outcome.fix_errors + errors))
    for error in errors:
        click.echo(f"losslint: error: {error}", err=True)
    if errors:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_FINDINGS if _failing(result.findings) and not exit_zero else EXIT_OK)


def _dynamic_options(
    config: Config, timeout: float | None, max_memory: str | None, device: str | None,
    no_stub_data: bool | None, script_args: str | None, jobs: int | None,
) -> DynamicOptions:
    from losslint.dynamic.runner import DynamicOptions

    probe = config.probe
    try:
        memory = parse_size(max_memory if max_memory is not None else probe.get("max-memory", "4GiB"))
    except ValueError as error:
        _fail(f"--max-memory: {error}")
    return DynamicOptions(
        timeout=float(timeout if timeout is not None else probe.get("timeout", 120)),
        max_memory=memory,
        device=device or str(probe.get("device", "cpu")),
        stub_data=not no_stub_data if no_stub_data else bool(probe.get("stub-data", True)),
        script_args=tuple(shlex.split(script_args)) if script_args is not None else tuple(probe.get("script-args", ())),
        jobs=jobs if jobs is not None else int(probe.get("jobs", 0)),
    )


def _load_config(targets: list[str], config_path: str | None, isolated: bool, stdin_filename: str | None) -> Config:
    if isolated:
        return Config()
    try:
        if config_path:
            return load(Path(config_path))
        starts = [Path(t) for t in targets if t != "-"] or [Path(stdin_filename or ".")]
        existing = [p.resolve() for p in starts if p.exists()] or [Path.cwd()]
        common = Path(os.path.commonpath([str(p) for p in existing]))
        found = find_config_file(common)
        return load(found) if found else Config()
    except ConfigError as error:
        _fail(str(error))
    raise AssertionError("unreachable")


def _report(
    result: RunResult, output_format: str, output_file: str | None, quiet: bool, no_color: bool, statistics: bool,
    to_stderr: bool = False,
) -> None:
    if statistics and output_format == "text":
        body = text.statistics(result.findings)
    elif output_format == "json":
        body = json_format.render(result.findings)
    elif output_format == "sarif":
        body = sarif.render(result.findings)
    elif output_format == "github":
        body = github.render(result.findings)
    else:
        colour = _use_colour(no_color or to_stderr, output_file)
        body = text.render(
            result.findings, result.files_checked, result.sources,
            colour=colour, show_source=not quiet, show_summary=not quiet,
        )
    if output_file:
        try:
            Path(output_file).write_text(body, encoding="utf-8")
        except OSError as error:
            _fail(f"cannot write {output_file}: {error.strerror}")
    elif to_stderr:  # `--fix -`: standard output carries the fixed source
        click.echo(body, nl=False, err=True, color=False)
    else:
        click.echo(body, nl=False, color=_use_colour(no_color, None) if output_format == "text" else False)


@cli.command("rules")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def rules_command(output_format: str) -> None:
    """List every rule: code, name, severity, passes, status, summary."""
    rows = [
        {
            "code": rule.code,
            "name": rule.name,
            "severity": rule.severity.value,
            "passes": [p.value for p in rule.passes],
            "status": rule.status,
            "default": rule.default_enabled,
            "summary": rule.summary,
        }
        for rule in registry.ALL_RULES
    ]
    if output_format == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        passes = ",".join(row["passes"])
        off = "" if row["default"] else " (off by default)"
        click.echo(f"{row['code']}  {row['name']:<34} {row['severity']:<8} {passes:<15} {row['summary']}{off}")


@cli.command()
@click.argument("rule")
def explain(rule: str) -> None:
    """Print a rule's page: `losslint explain LL102` or `losslint explain target-indexed-as-list`."""
    found = registry.get(rule)
    if found is None:
        _fail(f"unknown rule code or name: {rule} (see `losslint rules`)")
    page = _read_page(found.page_name)
    if page is None:
        _fail(f"the page for {found.code} ({found.page_name}) is not installed")
    click.echo(page, nl=False)


@cli.command()
def server() -> None:
    """Run the language server (LSP over stdin/stdout) for editors: the static pass's findings
    as diagnostics while you type, the safe fixes and `# noqa` as code actions."""
    try:
        from losslint.server import serve
    except ImportError as error:  # pygls is a dependency; a broken install says so in one line
        _fail(f"the language server needs pygls ({error}): pip install losslint")
    serve()


def _read_page(name: str) -> str | None:
    """The installed page (losslint.pages), else the checkout's rules/ folder: an editable
    install cannot map rules/ (no __init__.py) onto the namespace package losslint.pages."""
    try:
        return resources.files("losslint.pages").joinpath(name).read_text(encoding="utf-8")
    except (OSError, ModuleNotFoundError):
        pass
    try:
        return (Path(__file__).resolve().parent.parent / "rules" / name).read_text(encoding="utf-8")
    except OSError:
        return None


def main() -> None:
    """Console entry point: never a traceback for the user."""
    try:
        code = cli.main(prog_name="losslint", standalone_mode=False)
    except click.ClickException as error:  # usage errors: one line, like ruff's
        click.echo(f"losslint: error: {error.format_message()} (see `losslint --help`)", err=True)
        sys.exit(EXIT_ERROR)
    except click.exceptions.Abort:
        click.echo("losslint: interrupted", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        click.echo("losslint: interrupted", err=True)
        sys.exit(130)
    except Exception as error:  # the last guard: one line, exit 2
        if os.environ.get("LOSSLINT_DEBUG"):
            raise
        click.echo(f"losslint: internal error: {type(error).__name__}: {error}", err=True)
        sys.exit(EXIT_ERROR)
    sys.exit(code if isinstance(code, int) else EXIT_OK)


if __name__ == "__main__":
    main()
