"""The command line. The only module that prints or exits: the library returns reports or raises.

Exit codes: 0 ok, 1 user error (one paragraph naming the file/line and what to do), 2 usage error.
"""

from __future__ import annotations

import errno
import functools
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from kbtrans import __version__, fsutil, signals
from kbtrans import config as config_mod
from kbtrans.errors import CheckFailed, InternalError, KbtransError

app = typer.Typer(
    name="kbtrans",
    help="Keep an Obsidian-style Markdown knowledge base in two languages.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@functools.cache
def _stderr() -> Any:
    """The Rich console for standard error, made on first use: importing Rich costs ~15 ms, and most
    commands print only plain lines (see :func:`say` and :func:`warn`)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def say(text: str, *, stderr: bool = False) -> None:
    """Print a plain line (no Rich markup: brackets in note names stay as they are)."""
    typer.echo(text, err=stderr)


def _coloured() -> bool:
    """Whether standard error gets colours (a terminal, or FORCE_COLOR); only then is Rich loaded."""
    return sys.stderr.isatty() or bool(os.environ.get("FORCE_COLOR"))


def warn(message: str, *, label: str = "warning:", style: str = "yellow") -> None:
    """``warning: message`` on standard error, the label coloured on a terminal."""
    if _coloured():
        from rich.markup import escape

        _stderr().print(f"[{style}]{label}[/] {escape(message)}")
    else:
        say(f"{label} {message}", stderr=True)


@dataclass
class Context:
    """What the global options say, for every command."""

    project: Path
    overrides: dict[str, Any]

    def config(self, **more: Any) -> config_mod.Config:
        cfg = config_mod.load(self.project, {**self.overrides, **more})
        # A run killed with -9 mid-write left its temporary files: the next run removes them.
        fsutil.remove_stale_temps([cfg.locales_dir, cfg.output_dir, cfg.root / ".kbtrans"])
        return cfg

    def lock(self, cfg: config_mod.Config, command: str, no_wait: bool) -> Any:
        """The knowledge base's lock for ``command``: waits with a message, or fails with ``--no-wait``."""
        from kbtrans.lock import KbLock

        return KbLock(cfg.cache_dir, command, wait=not no_wait,
                      on_wait=lambda holder: say(f"kbtrans: waiting for {holder} to finish…", stderr=True))


#: ``--no-wait`` of the commands that write catalogs or output.
NoWait = Annotated[bool, typer.Option("--no-wait", help="If another kbtrans command is writing this knowledge "
                                      "base, exit 1 naming it instead of waiting for it.")]


def _version(value: bool) -> None:
    if value:
        say(f"kbtrans {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    ctx: typer.Context,
    project: Annotated[
        Path, typer.Option("-C", "--project", help="Run as if kbtrans was started in DIR (like git -C).",
                           metavar="DIR")
    ] = Path("."),
    content: Annotated[str | None, typer.Option(help="Override `content` (folder of notes).")] = None,
    locales: Annotated[str | None, typer.Option(help="Override `locales` (folder of catalogs).")] = None,
    output: Annotated[str | None, typer.Option(help="Override `output` (folder of built locales).")] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    ctx.obj = Context(project, {"content": content, "locales": locales, "output": output})


def _ctx(ctx: typer.Context) -> Context:
    obj = ctx.find_root().obj
    assert isinstance(obj, Context)
    return obj


@app.command()
def init(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing kbtrans.toml.")] = False,
) -> None:
    """Write a commented kbtrans.toml with every key at its default."""
    root = _ctx(ctx).project
    path = root / config_mod.CONFIG_NAME
    if path.exists() and not force:
        raise KbtransError("already exists. Edit it, or pass --force to overwrite it with the defaults.",
                           path=path)
    root.mkdir(parents=True, exist_ok=True)
    from kbtrans.fsutil import write_atomic

    write_atomic(path, config_mod.TEMPLATE.encode("utf-8"))
    (root / "content").mkdir(exist_ok=True)
    say(f"Wrote {path}. Put notes in {root / 'content'} and run `kbtrans extract`.")


@app.command()
def extract(
    ctx: typer.Context,
    no_obsolete: Annotated[bool, typer.Option(
        "--no-obsolete", help="Drop entries no longer in the note (default: keep them as #~).")] = False,
    jobs: Annotated[int, typer.Option("-j", "--jobs", help="Worker processes (0 = all cores).")] = 0,
    no_wait: NoWait = False,
) -> None:
    """Create or update the PO catalogs of every note (exact, then fuzzy, then obsolete)."""
    from kbtrans.extract import extract as run

    cfg = _ctx(ctx).config()
    report = run(cfg, no_obsolete=no_obsolete, jobs=jobs or None, kb_lock=_ctx(ctx).lock(cfg, "extract", no_wait))
    for old, new in report.renamed:
        say(f"renamed: {cfg.display(old)} → {cfg.display(new)} (translations carried over)")
    for orphan in report.orphans:
        warn(f"{cfg.display(orphan)}: catalog without a note (deleted or "
             "renamed?). Delete it if the note is gone for good; it is kept so no translation is lost.")
    say(
        f"{report.notes} notes: {len(report.written)} catalogs written ({report.created} new), "
        f"{report.new} new entries, {report.fuzzy} fuzzy, {report.obsolete} obsolete"
        + (f"; {report.unchanged} notes unchanged" if report.unchanged else "")
    )


@app.command()
def build(
    ctx: typer.Context,
    to: Annotated[list[str] | None, typer.Option("--to", help="Build only this language (repeatable).",
                                                 metavar="LANG")] = None,
    reviewed_only: Annotated[bool, typer.Option("--reviewed-only",
                                                help="Ignore fuzzy (unreviewed) translations.")] = False,
    min_translated: Annotated[float, typer.Option("--min-translated", metavar="PCT", min=0, max=100,
                                                  help="Skip notes translated below PCT percent.")] = 0.0,
    strict: Annotated[bool, typer.Option("--strict", help="Run `kbtrans check` first and exit 1 on any check "
                                         "error or stale catalog (nothing is built then), or on any "
                                         "build warning.")] = False,
    fmt: Annotated[str, typer.Option("--format", help="Message format: text, or github (workflow annotations; "
                                     "the default when GITHUB_ACTIONS=true).", metavar="text|github")] = "",
    jobs: Annotated[int, typer.Option("-j", "--jobs", help="Worker processes (0 = all cores).")] = 0,
    no_wait: NoWait = False,
    site: Annotated[str | None, typer.Option("--site", help="Also write a bilingual website into `site_output` "
                                             "(default build/site): mkdocs or hugo; vault: only the vaults "
                                             "(default: `site` in the config).", metavar="vault|mkdocs|hugo")] = None,
) -> None:
    """Rebuild every note in every language into the output folder."""
    from kbtrans.build import Options
    from kbtrans.build import build as run

    cfg = _ctx(ctx).config(site=site)
    github = _format(fmt, ("text", "github")) == "github"
    if strict:
        from kbtrans.check import check as run_check

        checked = run_check(cfg, tuple(to or ()), jobs=jobs or None)
        if checked.errors:
            _print_issues(checked.errors, github)
            raise CheckFailed(f"{len(checked.errors)} check errors and --strict is set; nothing was built. "
                              "Fix the catalogs listed above (see `kbtrans check`).")
    report = run(cfg, Options(tuple(to or ()), reviewed_only, min_translated), jobs=jobs or None,
                 kb_lock=_ctx(ctx).lock(cfg, "build", no_wait))
    for w in report.warnings:
        if github:
            from kbtrans.check import github_annotation

            say(github_annotation("warning", w.path, w.line, w.message, "kbtrans build"))
        else:
            warn(str(w))
    for rel, lang, pct in report.skipped:
        say(f"skipped: {lang}/{rel} is {pct:.1f}% translated (below --min-translated {min_translated:g})",
            stderr=True)
    parts = [f"{lang}: {done}/{total} segments translated" for lang, (done, total) in report.translated.items()]
    say(f"{report.notes} notes → {cfg.output}/: {len(report.written)} files written, "
        f"{len(report.removed)} removed; " + ", ".join(parts))
    if strict and report.warnings:
        raise CheckFailed(f"{len(report.warnings)} warnings and --strict is set. Fix the catalogs listed above.")
    if cfg.site != "vault":
        _publish(cfg, tuple(to or ()), reviewed_only, strict, github, jobs or None,
                 _ctx(ctx).lock(cfg, "build", no_wait))


def _publish(cfg: config_mod.Config, to: tuple[str, ...], reviewed_only: bool, strict: bool, github: bool,
             jobs: int | None, kb_lock: Any) -> None:
    """``build --site``: the site from the vaults just built."""
    from kbtrans.site import publish

    report = publish(cfg, cfg.site, languages=to, reviewed_only=reviewed_only, jobs=jobs, kb_lock=kb_lock)
    for w in report.warnings:
        if github:
            from kbtrans.check import github_annotation

            say(github_annotation("warning", w.path, w.line, w.message, "kbtrans build --site"))
        else:
            warn(str(w))
    say(f"{report.kind} site → {cfg.display(report.root)}/: {report.pages} pages, {len(report.written)} files "
        f"written, {len(report.removed)} removed. Build it with `{report.command}`.")
    if strict and report.warnings:
        raise CheckFailed(f"{len(report.warnings)} site warnings (broken links or anchors) and --strict is set. "
                          "Fix the links listed above.")


@app.command()
def translate(
    ctx: typer.Context,
    to: Annotated[list[str] | None, typer.Option("--to", help="Translate only into this language (repeatable).",
                                                 metavar="LANG")] = None,
    engine: Annotated[str | None, typer.Option("--engine", help="argos or pseudo (default: `engine` in the config).",
                                               metavar="NAME")] = None,
    note: Annotated[list[str] | None, typer.Option("--note", help="Only notes matching this glob, e.g. "
                                                   "'training/*' (repeatable).", metavar="GLOB")] = None,
    refresh: Annotated[bool, typer.Option("--refresh", help="Also re-translate machine translations whose "
                                          "source text changed.")] = False,
    fast: Annotated[bool, typer.Option("--fast", help="Draft quality, much faster (greedy decoding).")] = False,
    ray: Annotated[bool, typer.Option("--ray", help="Decode on a Ray cluster (Ray Data; pip install "
                                      "'kbtrans[ray]'): a one-node cluster here unless --ray-address names "
                                      "one.")] = False,
    ray_address: Annotated[str | None, typer.Option("--ray-address", help="The Ray cluster for --ray (implies "
                                                    "it): `auto` (the one `ray start` runs here) or "
                                                    "ray://HEAD:10001.", metavar="ADDRESS")] = None,
    no_wait: NoWait = False,
) -> None:
    """Fill untranslated catalog entries with offline machine translation (fuzzy, with provenance)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from kbtrans.translate import Options
    from kbtrans.translate import translate as run

    more: dict[str, Any] = {}
    if ray or ray_address:
        more = {"executor": "ray", "ray_address": ray_address}
    cfg = _ctx(ctx).config(**more)
    if more and (engine or cfg.engine) != "argos":
        raise typer.BadParameter(f"the Ray executor runs the argos engine, not {engine or cfg.engine!r}. "
                                 "Drop --ray (or set executor = \"local\"), or use --engine argos.",
                                 param_hint="--ray")
    options = Options(tuple(to or ()), engine, tuple(note or ()), refresh, fast)
    columns = (TextColumn("translating"), BarColumn(), MofNCompleteColumn(), TextColumn("segments"),
               TextColumn("{task.fields[rate]}"), TextColumn("ETA"), TimeRemainingColumn())
    try:
        with Progress(*columns, console=_stderr(), disable=not _stderr().is_terminal, transient=True) as bar:
            task = bar.add_task("translate", total=None, rate="")
            started: list[float] = []

            def progress(done: int, total: int) -> None:
                import time

                if not started:
                    started.append(time.monotonic())
                elapsed = time.monotonic() - started[0]
                rate = f"{done / elapsed:.1f} seg/s" if done and elapsed > 0 else ""
                bar.update(task, completed=done, total=total, rate=rate)

            report = run(cfg, options, progress, kb_lock=_ctx(ctx).lock(cfg, "translate", no_wait))
    except KeyboardInterrupt as exc:
        say(f"kbtrans: {signals.what(exc)}. Every translation finished so far is saved in the catalogs; "
            "run the same command again to translate the rest.", stderr=True)
        raise typer.Exit(signals.exit_code(exc)) from None
    for path in report.missing:
        warn(f"{cfg.display(path)}: no catalog; run `kbtrans extract` first.")
    if not report.todo:
        say(f"Nothing to translate: every entry of {report.catalogs} catalogs is translated.")
        return
    rate = f" ({report.unique / report.seconds:.1f} segments/s)" if report.unique and report.seconds > 0 else ""
    dirs = ", ".join(f"{d} {n}" for d, n in report.directions.items())
    parts = [f"{report.translated} entries machine-translated" + (f" with {report.engine}" if report.engine else "")
             + (f" ({report.unique} distinct: {dirs})" if dirs else "") + f" in {report.seconds:.1f} s{rate}",
             f"{report.memory} from translation memory"]
    if report.copied:
        parts.append(f"{report.copied} copied (nothing to translate)")
    if report.repaired:
        parts.append(f"{report.repaired} with repaired markup")
    if report.fallbacks:
        parts.append(f"{report.fallbacks} kept as source text (unusable output)")
    say("; ".join(parts) + f"; {len(report.written)} catalogs written. All are fuzzy: review them.")


def _format(value: str, allowed: tuple[str, ...]) -> str:
    """The --format value: as given, else github under GitHub Actions, else text."""
    import os

    if not value:
        return "github" if os.environ.get("GITHUB_ACTIONS") == "true" and "github" in allowed else "text"
    if value not in allowed:
        raise typer.BadParameter(f"must be one of {', '.join(allowed)}, not {value!r}.", param_hint="--format")
    return value


def _print_issues(issues: Any, github: bool) -> None:
    """Issues as GitHub annotations (stdout) or as text (stderr; coloured on a terminal, in one go)."""
    from itertools import islice

    from kbtrans.check import annotation

    issues = iter(issues)
    batched = iter(lambda: list(islice(issues, 2048)), [])  # written as they come, not all held

    if github:
        for chunk in batched:
            sys.stdout.write("".join(annotation(i) + "\n" for i in chunk))
        return
    if not _coloured():  # plain text is much faster than Rich for thousands of lines
        for chunk in batched:
            sys.stderr.write("".join(
                f"{i.location}: {i.severity}: {i.message} ({i.code})\n"
                + (f"    msgid: {i.msgid}\n" if i.msgid else "") + f"    fix: {i.hint}\n"
                for i in chunk))
        return
    from rich.text import Text

    text = Text()
    for i in issues:
        text.append(f"{i.location}: ")
        text.append(f"{i.severity}:", style="red" if i.severity == "error" else "yellow")
        text.append(f" {i.message} ({i.code})\n")
        if i.msgid:
            text.append(f"    msgid: {i.msgid}\n", style="dim")
        text.append(f"    fix: {i.hint}\n", style="dim")
    _stderr().print(text, end="")


@app.command()
def check(
    ctx: typer.Context,
    to: Annotated[list[str] | None, typer.Option("--to", help="Check only this language (repeatable).",
                                                 metavar="LANG")] = None,
    fmt: Annotated[str, typer.Option("--format", help="text, json, or github (workflow annotations; the "
                                     "default when GITHUB_ACTIONS=true).", metavar="text|json|github")] = "",
    strict: Annotated[bool, typer.Option("--strict", help="Glossary warnings and machine-translation fallbacks "
                                                        "(mt-fallback) are errors.")] = False,
    jobs: Annotated[int, typer.Option("-j", "--jobs", help="Worker processes (0 = all cores).")] = 0,
) -> None:
    """Check every translation against its source; exit 1 on any error (stale catalogs included)."""
    from kbtrans.check import check_stream as run

    cfg = _ctx(ctx).config()
    kind = _format(fmt, ("text", "json", "github"))
    report = run(cfg, tuple(to or ()), strict=strict, jobs=jobs or None)
    if kind == "json":
        _write_json_issues(report)
    else:
        _print_issues(report.issues, kind == "github")
        summary = (f"{report.catalogs} catalogs, {report.entries} translated entries: "
                   f"{report.errors} errors, {report.warnings} warnings")
        say(summary, stderr=kind == "github")
    if report.errors:
        raise typer.Exit(1)


def _write_json_issues(report: Any) -> None:
    """``json.dumps(CheckReport.as_dict(), indent=2)``, written an issue at a time."""
    import json

    head = {"notes": report.notes, "catalogs": report.catalogs, "entries": report.entries,
            "errors": report.errors, "warnings": report.warnings}
    out = sys.stdout
    out.write(json.dumps(head, ensure_ascii=False, indent=2)[:-2] + ',\n  "issues": [')
    first = True
    for i in report.issues:
        item = {"severity": i.severity, "code": i.code, "path": i.path, "line": i.line, "msgid": i.msgid,
                "message": i.message, "hint": i.hint}
        out.write(("\n" if first else ",\n") + "    " + json.dumps(item, ensure_ascii=False, indent=2)
                  .replace("\n", "\n    "))
        first = False
    out.write("]\n}\n" if first else "\n  ]\n}\n")


_BAR_STYLES = (("reviewed", "green"), ("machine", "blue"), ("fuzzy", "yellow"), ("untranslated", "bright_black"))


def _bar(counts: Any, width: int = 30) -> Any:
    """A coloured progress bar of ``counts`` (a kbtrans.stats.Counts): one block per share of segments."""
    from rich.text import Text

    bar = Text()
    total = counts.segments
    if not total:
        return bar.append("·" * width, style="bright_black")
    used = 0
    for i, (name, style) in enumerate(_BAR_STYLES):
        n = round(width * sum(getattr(counts, c) for c, _ in _BAR_STYLES[: i + 1]) / total) - used
        bar.append(("█" if name != "untranslated" else "░") * n, style=style)
        used += n
    return bar


def _stats_line(label: str, seg: Any, words: Any, width: int) -> Any:
    from rich.text import Text

    line = Text(f"{label:<{width}} ")
    line.append_text(_bar(seg))
    line.append(f" {seg.percent('reviewed'):5.1f}% reviewed", style="green")
    line.append(f" · {seg.percent('machine'):.0f}% machine", style="blue")
    line.append(f" · {seg.percent('fuzzy'):.0f}% fuzzy", style="yellow")
    line.append(f" · {seg.percent('untranslated'):.0f}% untranslated")
    line.append(f"  ({seg.segments} segments, {words.segments} words"
                + (f", {seg.obsolete} obsolete" if seg.obsolete else "") + ")")
    return line


@app.command()
def stats(
    ctx: typer.Context,
    to: Annotated[list[str] | None, typer.Option("--to", help="Only this language (repeatable).",
                                                 metavar="LANG")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the numbers as JSON.")] = False,
    by_note: Annotated[bool, typer.Option("--by-note", help="Also show a bar per note.")] = False,
    chart: Annotated[Path | None, typer.Option("--chart", metavar="FILE.svg|FILE.png",
                                               help="Draw a per-locale/per-folder chart (PNG needs "
                                                    "`pip install 'kbtrans[chart]'`).")] = None,
    jobs: Annotated[int, typer.Option("-j", "--jobs", help="Worker processes (0 = all cores).")] = 0,
) -> None:
    """Segments and words per locale (and note): reviewed, machine, fuzzy, untranslated, obsolete."""

    from kbtrans import stats as stats_mod

    cfg = _ctx(ctx).config()
    if chart is not None:
        stats_mod.check_chart_path(chart)
    report = stats_mod.stats(cfg, tuple(to or ()), jobs=jobs or None)
    if chart is not None:
        stats_mod.chart(report, chart)
    if as_json:
        for chunk in report.json_chunks():
            sys.stdout.write(chunk)
        sys.stdout.write("\n")
        return
    width = max([4, *(len(n.note) + 2 for n in report.notes)]) if by_note else 4
    for lang, total in report.locales.items():
        say(_stats_line(lang, total.segments, total.words, width))
        if by_note:
            for n in report.notes:
                if n.lang == lang:
                    say(_stats_line("  " + n.note, n.segments, n.words, width))
    if chart is not None:
        say(f"chart written to {chart}")


@app.command()
def review(
    ctx: typer.Context,
    to: Annotated[list[str] | None, typer.Option("--to", help="Only this language (repeatable).",
                                                 metavar="LANG")] = None,
    note: Annotated[list[str] | None, typer.Option("--note", help="Only notes matching this glob (repeatable).",
                                                   metavar="GLOB")] = None,
    host: Annotated[str, typer.Option("--host", help="Listen on this address (default loopback only).")] = "",
    port: Annotated[int, typer.Option("--port", help="Listen on this port (0 = a free one).")] = 0,
    open_browser: Annotated[bool, typer.Option("--open/--no-open", help="Open the page in a browser.")] = False,
) -> None:
    """Review and fix translations in a local web page (needs `pip install 'kbtrans[review]'`)."""
    from kbtrans.review import load_server

    cfg = _ctx(ctx).config()
    server = load_server(cfg, tuple(to or ()), tuple(note or ()), host or "127.0.0.1", port)
    if host and not server.loopback:
        warn(f"listening on {host}: anyone who can reach this address and has the URL's token can edit "
             "the catalogs.")
    say(f"kbtrans review: {server.url}  (Ctrl-C stops it)")
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn handles Ctrl-C itself; a second one lands here
        say("kbtrans review: interrupted.")
    say("kbtrans review: stopped.")


models_app = typer.Typer(
    help="List and install Argos Translate models. ARGOS_PACKAGES_DIR sets the packages folder "
         "(default: ~/.local/share/argos-translate/packages).",
    no_args_is_help=True, add_completion=False, rich_markup_mode=None,
)
app.add_typer(models_app, name="models")


@models_app.command("list")
def models_list() -> None:
    """List installed translation models: languages, package, version and folder."""
    from kbtrans.engines import argos

    models = argos.list_models()
    if not models:
        where = ", ".join(str(d) for d in argos.packages_dirs())
        say(f"No Argos Translate models installed in {where}. Install one with "
            "`kbtrans models install ru en`, or offline `kbtrans models install --file PATH.argosmodel`.")
        return
    rows = [(f"{m.from_code} → {m.to_code}", f"{m.from_name} → {m.to_name}", m.name, m.version, str(m.path))
            for m in models]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        say("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[4])


@models_app.command("install")
def models_install(
    ctx: typer.Context,
    languages: Annotated[list[str] | None, typer.Argument(
        help="Source and target language (e.g. `ru en`); none: every direction between the configured languages.",
        metavar="FROM TO", show_default=False)] = None,
    file: Annotated[Path | None, typer.Option("--file", help="Install this downloaded .argosmodel file (offline).",
                                              metavar="PATH.argosmodel")] = None,
) -> None:
    """Install a model: download it (FROM TO), or from a .argosmodel file (--file)."""
    from kbtrans.engines import argos

    langs = list(languages or [])
    if langs and len(langs) != 2:
        raise typer.BadParameter("give two languages, FROM and TO (e.g. `ru en`), or none.", param_hint="FROM TO")
    if file is not None:
        installed = [argos.install_file(file)]
        if langs and (installed[0].from_code, installed[0].to_code) != (langs[0], langs[1]):
            warn(f"{file} holds {installed[0].from_code} → {installed[0].to_code}, "
                 f"not {langs[0]} → {langs[1]}; it was installed anyway.")
    else:
        if langs:
            pairs = [(langs[0], langs[1])]
        else:
            cfg = _ctx(ctx).config()
            pairs = [(a, b) for a in cfg.languages for b in cfg.languages if a != b]
        installed = [argos.install(a, b) for a, b in pairs]
    for m in installed:
        say(f"installed {m.name} {m.version} ({m.from_code} → {m.to_code}) in {m.path}")


_OS_HINTS = {
    errno.ENOSPC: "Free some disk space",
    errno.EDQUOT: "Free some disk space (the quota is full)",
    errno.EACCES: "Check the permissions of the path",
    errno.EPERM: "Check the permissions of the path",
    errno.EROFS: "The file system is read-only: choose a writable folder (the option or config key that names it)",
}


def main() -> None:
    """Entry point: run the app, turning user errors into one message and exit code 1."""
    signals.install()
    try:
        app(prog_name="kbtrans")
    except SystemExit as exc:  # typer turns a KeyboardInterrupt (SIGTERM too) outside a command's own handler into 130
        if signals.terminated() and exc.code == 130:
            say("kbtrans: terminated (SIGTERM); everything written so far is complete.", stderr=True)
            sys.exit(signals.TERMINATED_EXIT)
        raise
    except KbtransError as exc:
        warn(str(exc), label="kbtrans: error:", style="red")
        sys.exit(1)
    except OSError as exc:  # the file system said no (a file where a folder should be, disk full, read-only, …)
        where = f"{exc.filename}: " if exc.filename else ""
        what = _OS_HINTS.get(exc.errno or 0, "Check that the path is a writable folder (or fix the option or "
                             "config key that names it)")
        warn(f"{where}{exc.strerror or exc}. {what} and run the command again; files already written are "
             "complete.", label="kbtrans: error:", style="red")
        sys.exit(1)
    except InternalError as exc:
        say(f"kbtrans: internal error (a bug, please report it): {exc}", stderr=True)
        sys.exit(3)
    except KeyboardInterrupt as exc:
        say(f"kbtrans: {signals.what(exc)}; everything written so far is complete.", stderr=True)
        sys.exit(signals.exit_code(exc))
