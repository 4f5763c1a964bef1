"""The `askbot` command line. Heavy imports happen inside commands, so --help stays instant."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click

from .errors import AskbotError, UsageError

DIR = click.Path(file_okay=False, path_type=Path)


def _settings(docs: Path | None = None, index: Path | None = None, collection: str | None = None, **more):
    """The settings of one collection: the environment and .env, then the options given."""
    from .settings import Settings

    deployment = Settings.from_env().with_overrides(index_dir=index, **more)  # from_env loads .env
    return deployment.for_collection(_collection_name(collection)).with_overrides(docs_dir=docs)


def docs_option(f):
    return click.option("--docs", type=DIR, help="Documents folder [env ASKBOT_DOCS_DIR; default docs]")(f)


def index_option(f):
    return click.option("--index", type=DIR, help="Index folder [env ASKBOT_INDEX_DIR; default index]")(f)


def collection_option(f):
    return click.option(
        "--collection",
        metavar="NAME",
        help="Which corpus of the deployment: its own index (INDEX/collections/NAME) and documents "
        "(DATA/collections/NAME/docs unless --docs) [env ASKBOT_COLLECTION; default default]",
    )(f)


class AskbotGroup(click.Group):
    """Turns every failure into one line on stderr and an exit code (tracebacks with --verbose)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except AskbotError as error:
            self._fail(ctx, str(error), error.exit_code)
        except KeyboardInterrupt:
            self._fail(ctx, "interrupted", 130)
        except BrokenPipeError:
            sys.stderr.close()  # the reader left; nothing more to say
            ctx.exit(0)
        except Exception as error:  # a bug: still one line, unless asked for the traceback
            self._fail(ctx, f"{type(error).__name__}: {error} (run with --verbose for details)", 1)

    @staticmethod
    def _fail(ctx: click.Context, message: str, code: int) -> None:
        if (ctx.obj or {}).get("verbose"):
            raise
        click.echo(f"askbot: error: {message}", err=True)
        ctx.exit(code)


@click.group(cls=AskbotGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--verbose", is_flag=True, help="Show tracebacks on errors.")
@click.version_option(package_name="askbot")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Answer questions from a folder of documents.

    \b
    Examples:
      askbot index build
      askbot ask "What chip powers the OnePlus 6?"
      echo "Who is the CEO of OnePlus?" | askbot ask --json
      askbot repl
      askbot discord
      askbot fetch https://docs.example.org/guide/
    """
    ctx.obj = {"verbose": verbose}


@cli.group()
def index() -> None:
    """Build or inspect the index."""


@index.command("build")
@docs_option
@index_option
@collection_option
def index_build(docs: Path | None, index: Path | None, collection: str | None) -> None:
    """Index the documents folder; only changed documents are embedded again.

    \b
    Example:
      askbot index build --docs docs --index index
      added 1, changed 0, removed 0, unchanged 0, chunks 4, 6.2 s
    """
    from .engine import build_index

    report = build_index(_settings(docs, index, collection))
    click.echo(report.summary())


@index.command("info")
@index_option
@collection_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def index_info(index: Path | None, collection: str | None, as_json: bool) -> None:
    """Describe the index in use: documents, chunks, model, size.

    \b
    Example:
      askbot index info --json
    """
    from .engine import Engine

    info = Engine.open(_settings(index=index, collection=collection), auto_build=False).info()
    if as_json:
        click.echo(json.dumps(asdict(info)))
        return
    for key, value in asdict(info).items():
        click.echo(f"{key.replace('_', ' ')}: {value}")


@cli.command()
@click.argument("question", required=False)
@docs_option
@index_option
@collection_option
@click.option("-k", "k", type=click.IntRange(1, 50), help="How many passages to show [default 3].")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per question, one per line.")
@click.option(
    "--chat",
    is_flag=True,
    help="Read standard input as a conversation: a line may follow up on the ones before; an empty line starts a new one.",
)
def ask(
    question: str | None, docs: Path | None, index: Path | None, collection: str | None, k: int | None, as_json: bool, chat: bool
) -> None:
    """Answer QUESTION, or each line of standard input when QUESTION is left out.

    \b
    Examples:
      askbot ask "What chip powers the OnePlus 6?"
      askbot ask -k 5 --json "Who is the CEO of OnePlus?"
      cat questions.txt | askbot ask --json > answers.jsonl
      printf 'What chip powers the OnePlus 6?\\nWhen will it arrive?\\n' | askbot ask --chat
    """
    from .engine import Engine

    if chat and question is not None:
        raise UsageError("--chat reads the conversation from standard input: leave QUESTION out")
    engine = Engine.open(_settings(docs, index, collection))
    if question is not None:
        _print_answer(engine.ask(question, k), as_json)
        return
    asker = engine.conversation() if chat else engine
    failed = False
    if hasattr(sys.stdin, "reconfigure"):
        sys.stdin.reconfigure(errors="replace")  # one stray byte must not end the batch
    for line in iter(sys.stdin.readline, ""):
        if not line.strip():
            if chat:
                asker = engine.conversation()
            continue
        try:
            _print_answer(asker.ask(line, k), as_json)
        except AskbotError as error:  # a bad line is reported; the rest are still answered
            failed = True
            click.echo(f"askbot: error: {error}", err=True)
    if failed:
        sys.exit(2)


def _print_answer(answer, as_json: bool) -> None:
    from .render import answer_text

    if as_json:
        click.echo(json.dumps(answer.to_dict(), ensure_ascii=False))
    else:
        click.echo(answer_text(answer))
        click.echo()
    sys.stdout.flush()


@cli.command()
@docs_option
@index_option
@collection_option
@click.option("-k", "k", type=click.IntRange(1, 50), help="How many passages to show [default 3].")
def repl(docs: Path | None, index: Path | None, collection: str | None, k: int | None) -> None:
    """Ask questions interactively (:help lists the commands).

    \b
    Example:
      askbot repl
      > What chip powers the OnePlus 6?
    """
    from .engine import Engine
    from .repl import Repl

    settings = _settings(docs, index, collection)
    Repl(Engine.open(settings), k or settings.top_k).run()


@cli.command("discord")
@docs_option
@index_option
@collection_option
@click.option("--shard-count", type=click.IntRange(1), help="Total shards of the bot (Discord: one per 2,500 servers) [env ASKBOT_DISCORD_SHARD_COUNT].")
@click.option("--shard-ids", metavar="A,B", help="The shards this process runs, e.g. 0,1 (default: all) [env ASKBOT_DISCORD_SHARD_IDS].")
def discord_command(docs: Path | None, index: Path | None, collection: str | None, shard_count: int | None, shard_ids: str | None) -> None:
    """Run the Discord bot: /ask, mentions, DMs, forum posts and Apps → Ask askbot.

    \b
    Needs DISCORD_TOKEN in .env or the environment (the README explains the portal setup).
    Loads (or builds) the index, connects, and runs until Ctrl-C or SIGTERM. --collection is
    the collection of servers ASKBOT_DISCORD_COLLECTIONS does not map.
    Examples:
      askbot discord --docs docs --index index
      askbot discord --shard-count 4 --shard-ids 0,1   # another machine runs 2,3
    """
    from .discord_bot import run

    settings = _settings(docs, index, None, discord_shard_count=shard_count, discord_shard_ids=_shard_ids(shard_ids))
    run(settings, default_collection=_collection_name(collection))


def _shard_ids(raw: str | None) -> tuple[int, ...] | None:
    if raw is None:
        return None
    try:
        return tuple(int(part) for part in raw.replace(" ", "").split(",") if part)
    except ValueError:
        raise UsageError(f"--shard-ids takes comma-separated shard numbers, e.g. 0,1; got {raw!r}") from None


def _collection_name(collection: str | None) -> str:
    """--collection, else ASKBOT_COLLECTION (read after .env is loaded), else "default"."""
    import os

    from .settings import DEFAULT_COLLECTION, collection_name

    return collection_name(collection or os.environ.get("ASKBOT_COLLECTION", "").strip() or DEFAULT_COLLECTION)


@cli.group()
def feedback() -> None:
    """Votes collected by the Discord bot."""


@feedback.command("export")
@click.option("--data", type=DIR, help="Data folder holding feedback.sqlite3 [env ASKBOT_DATA_DIR; default data]")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE, not standard output.")
@click.option("--collection", metavar="NAME", help="Only the answers of this collection [default: all].")
def feedback_export(data: Path | None, output: Path | None, collection: str | None) -> None:
    """Write every voted answer as JSONL, in the format of the eval questions.

    \b
    An answer with more 👍 than 👎 is the gold answer; others have "answers": [] to fill in.
    Example:
      askbot feedback export -o feedback.jsonl
    """
    from .feedback import open_existing

    store = open_existing(_settings(data_dir=data))
    try:
        lines = [json.dumps(record, ensure_ascii=False) + "\n" for record in store.export(collection and _collection_name(collection))]
    finally:
        store.close()
    if output is None:
        click.echo("".join(lines), nl=False)
        return
    output.write_text("".join(lines), encoding="utf-8")
    click.echo(f"exported {len(lines)} answers to {output}", err=True)


@cli.command("fetch")
@click.argument("urls", nargs=-1, required=True)
@click.option("--sitemap", is_flag=True, help="Also fetch the pages the site's sitemap.xml lists.")
@click.option("--max-pages", type=click.IntRange(1), default=500, show_default=True, help="Keep at most this many pages.")
@docs_option
def fetch_command(urls: tuple[str, ...], sitemap: bool, max_pages: int, docs: Path | None) -> None:
    """Copy a documentation site's pages into the docs folder (then run askbot index build).

    Stays on each URL's host and path prefix, honours robots.txt, waits between
    requests, and on a second run re-fetches only pages that changed and removes
    pages the site dropped. Each page is saved as DOCS/<host>/<path>.html (PDFs as
    .pdf) with its URL recorded beside it, so answers cite the URL.
    
    Example:
      askbot fetch https://docs.example.org/guide/ --sitemap --max-pages 200
      fetched 120, unchanged 0, removed 0, skipped 2, 75.3 s
    """
    from . import fetch

    settings = _settings(docs)
    progress = fetch.progress_printer(max_pages)

    def notify(message: str) -> None:
        click.echo(("\r\x1b[K" if progress else "") + f"askbot: {message}", err=True)

    report = fetch.fetch(
        urls, settings.docs_dir, sitemap=sitemap, max_pages=max_pages, delay=settings.fetch_delay_seconds,
        timeout=settings.fetch_timeout_seconds, max_bytes=settings.max_file_bytes, notify=notify,
        progress=progress or (lambda _: None),
    )
    if progress:
        click.echo("\r\x1b[K", nl=False, err=True)
    click.echo(report.summary())


@cli.command("report")
@collection_option
@click.option("--since", "since", type=click.IntRange(1), default=30, show_default=True, metavar="DAYS", help="How many days back.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--data", type=DIR, help="Data folder [env ASKBOT_DATA_DIR; default data]")
@index_option
@click.option("--forget-user", "forget_user", type=int, metavar="ID", help="Delete this Discord user's logged questions and votes, then exit.")
def report_command(collection: str | None, since: int, as_json: bool, data: Path | None, index: Path | None, forget_user: int | None) -> None:
    """What the documents are missing: questions asked through Discord, the ones declined
    most often (near-duplicates grouped), answers voted 👎, sources used most.

    \b
    Examples:
      askbot report --collection acme --since 7
      askbot report --json > report.json
      askbot report --forget-user 123456789012345678
    """
    from .feedback import open_feedback
    from .questionlog import FILE_NAME as LOG_FILE
    from .questionlog import SqliteQuestionLog
    from .report import gather, report_text

    settings = _settings(index=index, collection=collection, data_dir=data)
    feedback = open_feedback(settings)  # holds the key that hashes user ids
    log = SqliteQuestionLog(settings.data_dir / LOG_FILE)
    try:
        if forget_user is not None:
            questions, votes = log.forget_user(feedback.user_hash(forget_user)), feedback.forget_user(forget_user)
            click.echo(f"deleted {questions} question(s) and {votes} vote(s) of user {forget_user}")
            return
        scope = settings.collection if collection or settings.collection != "default" else None
        report = gather(log, feedback, since, scope, _lazy_encoder(settings))
    finally:
        log.close()
        feedback.close()
    click.echo(json.dumps(report.to_dict(), ensure_ascii=False) if as_json else report_text(report))


def _lazy_encoder(settings):
    """The collection's question encoder, loaded only if the report needs to group questions."""
    def encode(texts):
        from .engine import Engine

        return Engine.open(settings, auto_build=False).encode(texts)

    return encode


@cli.command("eval")
@click.argument("sets", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@docs_option
@click.option("--index", type=DIR,
              help="Evaluate (and update) this index instead of a fresh temporary one; with set folders, one index per set in INDEX/NAME.")
@click.option("--offtopic", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Questions the documents cannot answer (same format; answers not needed).")
@click.option("--offtopic-from", "offtopic_from", multiple=True, metavar="previous|NAME=OTHER",
              help="Ask each set another set's questions as off-topic: 'previous' pairs each with the set before it.")
@click.option("--by-confidence", is_flag=True, help="Also print the reliability table: share right per tenth of confidence.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table (a list with several sets).")
@click.option("--misses", type=click.IntRange(0), default=0, help="Also list N missed questions.")
@click.option("--tune", is_flag=True, help="Search the fusion weight and abstention threshold; print the best.")
@collection_option
def eval_command(sets: tuple[Path, ...], docs: Path | None, index: Path | None, offtopic: Path | None,
                 offtopic_from: tuple[str, ...], by_confidence: bool, as_json: bool, misses: int, tune: bool,
                 collection: str | None) -> None:
    """Measure answers and passages against gold answers, for each of SETS.

    \b
    A set is a folder with questions.jsonl and docs/, or a questions file whose
    documents --docs names. Each questions line:
      {"id": "...", "question": "...", "answers": ["gold", ...]}
    Without --index the documents are indexed into a temporary folder, so the
    build time is measured and your index/ is left alone. One set prints every
    figure; several print one row each.
    \b
    Examples:
      askbot eval questions.jsonl --docs eval/docs --misses 10
      askbot eval questions.jsonl --docs eval/docs --offtopic other.jsonl --tune
      askbot eval eval/squad-dev eval/news-dev eval/papers-dev --offtopic-from previous --by-confidence
    """
    from . import evaluation as ev

    chosen = ev.resolve_sets(sets)
    if tune and len(chosen) > 1:
        raise UsageError("--tune takes one set")
    if any(s.docs is None for s in chosen) and len(chosen) > 1:
        raise UsageError("with several sets, each must be a folder holding questions.jsonl and docs/")
    sources = ev.offtopic_sources(chosen, offtopic_from, offtopic)
    results = [_eval_set(s, docs, index, collection, sources.get(s.name), misses, tune, as_json) for s in chosen]
    if tune:
        return
    if as_json:
        records = [{"set": r.name, "offtopic_from": r.offtopic_from, **r.report.to_dict()} for r in results]
        click.echo(json.dumps(records[0] if len(results) == 1 else records, ensure_ascii=False))
        return
    click.echo(ev.report_table(results[0].report) if len(results) == 1 else ev.sets_table(results))
    if by_confidence:
        click.echo("\n" + ev.reliability_table(results))
    if len(results) > 1:
        for r in results:
            if listed := ev.misses_text(r.report):
                click.echo(f"\n{r.name}:{listed}")


def _eval_set(chosen, docs: Path | None, index: Path | None, collection: str | None,
              offtopic: tuple[str, Path] | None, misses: int, tune: bool, as_json: bool):
    """Measure one set over its own index (or, with --tune, print the trials)."""
    from . import evaluation as ev

    labelled = ev.load_questions(chosen.questions)
    off = ev.load_questions(offtopic[1], labelled=False) if offtopic else []
    folder = index / chosen.name if index is not None and chosen.docs is not None else index
    notify = lambda message: click.echo(f"askbot: {chosen.name}: {message}", err=True)  # noqa: E731
    settings = _settings(chosen.docs or docs, folder, collection)
    with ev.evaluation_engine(settings, fresh=folder is None, notify=notify) as (engine, build_s):
        if tune:
            trials = ev.tune(engine, labelled, off)
            click.echo(json.dumps([asdict(t) for t in trials]) if as_json else ev.tune_table(trials))
            return None
        outcomes = ev.run(engine, labelled, ev.terminal_progress(f"{chosen.name} questions"))
        off_answers = ev.ask_offtopic(engine, off, ev.terminal_progress(f"{chosen.name} off-topic"))
    report = ev.summarise(outcomes, off_answers, build_s, misses)
    return ev.SetResult(chosen.name, offtopic[0] if offtopic else None, report)


@cli.command("eval-dialogs")
@click.argument("dialogs", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@docs_option
@click.option("--index", type=DIR, help="Evaluate (and update) this index instead of a fresh temporary one.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@collection_option
def eval_dialogs_command(dialogs: Path, docs: Path | None, index: Path | None, as_json: bool, collection: str | None) -> None:
    """Measure follow-ups: each dialogue in DIALOGS (JSON lines) asked as one conversation.

    \b
    Each line: {"id": "...", "source": "...", "turns": [{"question": "...", "answers": ["gold", ...]}, ...]}
    Prints answer hit@1 of first turns and of follow-ups, in one conversation (ask --chat)
    and each question alone (ask), per "source" and overall.
    \b
    Example:
      askbot eval-dialogs dialogs.jsonl --docs eval/docs
    """
    from . import dialog_eval
    from . import evaluation as ev

    loaded = dialog_eval.load_dialogs(dialogs)
    notify = lambda message: click.echo(f"askbot: {message}", err=True)  # noqa: E731
    with ev.evaluation_engine(_settings(docs, index, collection), fresh=index is None, notify=notify) as (engine, _):
        outcomes = dialog_eval.run(engine, loaded, ev.terminal_progress("dialogues"))
    click.echo(json.dumps(dialog_eval.to_dict(outcomes)) if as_json else dialog_eval.table(outcomes, by_source=True))


def main() -> None:
    cli.main(prog_name="askbot")


if __name__ == "__main__":
    main()
