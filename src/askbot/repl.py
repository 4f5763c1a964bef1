"""The interactive prompt: ask questions, see the answer inside its passage, and steer with :commands.

With a terminal it uses prompt_toolkit (history, line editing); with a pipe it reads plain lines
and prints plain text, answering each line as it arrives. A session is one conversation, so a
follow-up ("When will it arrive?") leans on the questions before it; `:new` starts afresh.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .answer import Answer
from .engine import Engine
from .errors import AskbotError
from .render import answer_text, highlighted_passage, passages_text

HELP = """Type a question, or one of:
  :help      this list
  :k N       show N passages per answer
  :sources   the passages behind the last answer
  :new       start a new conversation (follow-ups no longer lean on earlier questions)
  :reload    rebuild the index if the documents changed
  :quit      leave (Ctrl-D works too; Ctrl-C clears the line)"""

HISTORY_FILE = Path.home() / ".askbot_history"


class Repl:
    def __init__(self, engine: Engine, k: int):
        self.engine = engine
        self.k = k
        self.conversation = engine.conversation()
        self.last: Answer | None = None
        self.interactive = sys.stdin.isatty() and sys.stdout.isatty()

    def run(self) -> None:
        if self.interactive:
            click.echo("askbot: ask about your documents. :help for commands, Ctrl-D to leave.")
        read = self._prompt_reader() if self.interactive else self._line_reader()
        while True:
            try:
                line = read()
            except KeyboardInterrupt:
                continue
            except EOFError:
                break
            if line is None:
                break
            if not self.handle(line.strip()):
                break

    def handle(self, line: str) -> bool:
        """Act on one line; False means leave."""
        if not line:
            return True
        if line.startswith(":"):
            return self._command(line)
        try:
            self.last = self.conversation.ask(line, self.k)
        except AskbotError as error:
            self._say(f"askbot: {error}")
            return True
        self._show(self.last)
        return True

    def _command(self, line: str) -> bool:
        name, _, arg = line.partition(" ")
        if name in (":quit", ":q", ":exit"):
            return False
        if name == ":help":
            self._say(HELP)
        elif name == ":k":
            if arg.strip().isdigit() and 1 <= int(arg) <= 50:
                self.k = int(arg)
                self._say(f"showing {self.k} passages")
            else:
                self._say(":k takes a whole number from 1 to 50")
        elif name == ":new":
            self.conversation = self.engine.conversation()
            self._say("new conversation")
        elif name == ":sources":
            self._say(passages_text(self.last) if self.last else "no answer yet")
        elif name == ":reload":
            try:
                self._say(self.engine.rebuild().summary())
            except AskbotError as error:
                self._say(f"askbot: {error}")
        else:
            self._say(f"unknown command {name}; :help lists them")
        return True

    def _show(self, answer: Answer) -> None:
        parts = [answer_text(answer)]
        if answer.answered:
            parts.insert(1, highlighted_passage(answer))
        self._say("\n".join(parts) + "\n")

    def _say(self, text: str) -> None:
        click.echo(text)
        sys.stdout.flush()

    def _prompt_reader(self):
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory

        session = PromptSession(history=FileHistory(str(HISTORY_FILE)))
        return lambda: session.prompt("> ")

    @staticmethod
    def _line_reader():
        def read() -> str | None:
            line = sys.stdin.readline()
            return line if line else None

        return read
