"""/docs add, /docs list, /docs remove: a server's documents managed from Discord.

Only members with Manage Server may use them; they act on the collection of the server (or
channel) they are run in. An upload is checked completely before anything changes: a file of a
type askbot does not index, over ASKBOT_DISCORD_MAX_UPLOAD_BYTES, with a path in its name,
empty, or that fails to parse is refused politely and nothing is saved. Accepted files are
written to a hidden temporary file in the docs folder, then renamed into place (atomic), and
the index is updated incrementally in the background while the old one keeps answering.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from . import discord_render as render
from . import documents
from .errors import AskbotError

if TYPE_CHECKING:
    from .discord_bot import AskBot

NOT_MANAGER = "Only server managers can change the documents."
DOWNLOAD_FAILED = "Nothing was changed: the upload could not be downloaded from Discord."


class Refused(AskbotError):
    """Why an upload or a removal is refused; the message is shown to the member."""


@dataclass(frozen=True)
class Upload:
    name: str
    data: bytes


@dataclass(frozen=True)
class Staged:
    """A checked upload, written next to its final place under a hidden name."""

    name: str
    temporary: Path
    target: Path

    def commit(self) -> str:
        existed = self.target.exists()
        os.replace(self.temporary, self.target)  # atomic: readers see the old file or the new
        return "changed" if existed else "added"


def safe_name(name: str) -> str:
    """The file name of an upload, refused when it is anything but a plain, visible name."""
    shown = documents.shown(name)
    if not name or "/" in name or "\\" in name or PurePosixPath(name).name != name or name.startswith("."):
        raise Refused(f"`{shown}`: the name must be a plain file name, without a folder or path.")
    if not name.isprintable():
        raise Refused(f"`{shown}`: the name contains control characters.")
    return name


def check_upload(name: str, size: int, limit: int) -> None:
    """What can be refused before downloading: the name, the type and the announced size."""
    safe_name(name)
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in documents.SUPPORTED_SUFFIXES:
        kinds = ", ".join(sorted(documents.SUPPORTED_SUFFIXES))
        raise Refused(f"`{name}`: askbot does not index {suffix or 'files without an extension'}; it reads {kinds}.")
    if size > limit:
        raise Refused(f"`{name}` is {size:,} bytes; the limit is {limit:,} bytes.")
    if size == 0:
        raise Refused(f"`{name}` is empty.")


def stage(upload: Upload, docs_dir: Path, limit: int) -> Staged:
    """Check an upload's content (it must parse into text) and write it beside its target."""
    check_upload(upload.name, len(upload.data), limit)
    docs_dir.mkdir(parents=True, exist_ok=True)
    suffix = PurePosixPath(upload.name).suffix
    fd, temporary = tempfile.mkstemp(prefix=".upload-", suffix=suffix, dir=docs_dir)  # hidden: never indexed
    path = Path(temporary)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(upload.data)
            file.flush()
            os.fsync(file.fileno())
        problems: list[str] = []
        source = documents.SourceFile(upload.name, path, hashlib.sha256(upload.data).hexdigest())
        if documents.load(source, problems.append, limit) is None:
            reason = problems[0].split(": ", 1)[-1] if problems else "it could not be read"
            raise Refused(f"`{upload.name}` cannot be indexed: {reason}.")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Staged(upload.name, path, docs_dir / upload.name)


def stage_all(uploads: list[Upload], docs_dir: Path, limit: int) -> list[Staged]:
    """All uploads staged, or none (the first refusal removes what was staged)."""
    staged: list[Staged] = []
    try:
        for upload in uploads:
            staged.append(stage(upload, docs_dir, limit))
    except BaseException:
        for item in staged:
            item.temporary.unlink(missing_ok=True)
        raise
    return staged


def listing(docs_dir: Path) -> list[tuple[str, int]]:
    """(name, bytes) of every document in the folder, as the index sees them."""
    if not docs_dir.is_dir():
        return []
    root = docs_dir.resolve()
    return [(p.relative_to(root).as_posix(), p.stat().st_size) for p in sorted(documents.walk(root, lambda _: None))
            if p.suffix.lower() in documents.SUPPORTED_SUFFIXES]


def remove(docs_dir: Path, name: str) -> None:
    """Delete a document by its listed name (nothing outside the docs folder can match)."""
    if name not in dict(listing(docs_dir)):
        raise Refused(f"There is no document named `{documents.shown(name)}` (see /docs list).")
    (docs_dir.resolve() / name).unlink()


class DocsManager:
    """The /docs commands' work, for the collection of the place they are run in."""

    def __init__(self, bot: "AskBot"):
        self.bot = bot

    async def add(self, interaction: discord.Interaction, attachments: list[discord.Attachment]) -> None:
        if not await self._allowed(interaction):
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        collection, docs_dir = await self._docs_of(interaction)
        limit = self.bot.settings.discord_max_upload_bytes
        try:
            for attachment in attachments:  # refuse what we can before downloading anything
                check_upload(attachment.filename, attachment.size, limit)
            uploads = [Upload(a.filename, await a.read()) for a in attachments]
            staged = await asyncio.to_thread(stage_all, uploads, docs_dir, limit)
        except Refused as refusal:
            await interaction.edit_original_response(content=render.note(f"Nothing was changed. {refusal}"))
            return
        except discord.HTTPException:
            await interaction.edit_original_response(content=DOWNLOAD_FAILED)
            return
        changes = [f"{item.commit()} `{item.name}`" for item in staged]
        await self._rebuilt(interaction, collection, "; ".join(changes).capitalize())

    async def list(self, interaction: discord.Interaction) -> None:
        if not await self._allowed(interaction):
            return
        collection, docs_dir = await self._docs_of(interaction)
        files = await asyncio.to_thread(listing, docs_dir)
        lines = [f"`{documents.shown(name)}` ({size:,} bytes)" for name, size in files]
        if files:
            text = f"{len(files)} document(s) in collection `{collection}`:\n" + "\n".join(lines)
        else:
            text = f"No documents in collection `{collection}` yet: add some with /docs add."
        await interaction.response.send_message(render.note(text), ephemeral=True)

    async def remove(self, interaction: discord.Interaction, name: str) -> None:
        if not await self._allowed(interaction):
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        collection, docs_dir = await self._docs_of(interaction)
        try:
            await asyncio.to_thread(remove, docs_dir, name)
        except Refused as refusal:
            await interaction.edit_original_response(content=render.note(f"Nothing was changed. {refusal}"))
            return
        await self._rebuilt(interaction, collection, f"Removed `{documents.shown(name)}`")

    async def _allowed(self, interaction: discord.Interaction) -> bool:
        if self.bot.is_manager(interaction):
            return True
        await interaction.response.send_message(NOT_MANAGER, ephemeral=True)
        return False

    async def _docs_of(self, interaction: discord.Interaction) -> tuple[str, Path]:
        collection = self.bot.collection_of_interaction(interaction)
        engine = await asyncio.to_thread(self.bot.engines.get, collection)
        return collection, engine.settings.docs_dir

    async def _rebuilt(self, interaction: discord.Interaction, collection: str, changed: str) -> None:
        """Say what changed at once, then update the index and say how that went."""
        await interaction.edit_original_response(content=render.note(f"{changed}. Updating the index…"))
        outcome = await self.bot.rebuild(collection)
        await interaction.edit_original_response(content=render.note(f"{changed}. {outcome}"))


docs_group = app_commands.Group(
    name="docs", description="The documents askbot answers from (Manage Server)", guild_only=True,
    default_permissions=discord.Permissions(manage_guild=True),
)


@docs_group.command(name="add", description="Add or replace documents (attach up to three files)")
@app_commands.describe(file="A document (.txt, .md, .html, …)", file2="Another document", file3="Another document")
async def docs_add(interaction: discord.Interaction, file: discord.Attachment,
                   file2: discord.Attachment | None = None, file3: discord.Attachment | None = None) -> None:  # fmt: skip
    files = [f for f in (file, file2, file3) if f is not None]
    async with interaction.client.busy():  # type: ignore[attr-defined]
        await interaction.client.docs.add(interaction, files)  # type: ignore[attr-defined]


@docs_group.command(name="list", description="List the documents")
async def docs_list(interaction: discord.Interaction) -> None:
    async with interaction.client.busy():  # type: ignore[attr-defined]
        await interaction.client.docs.list(interaction)  # type: ignore[attr-defined]


@docs_group.command(name="remove", description="Remove a document")
@app_commands.describe(name="The document's name, as /docs list shows it")
async def docs_remove(interaction: discord.Interaction, name: str) -> None:
    async with interaction.client.busy():  # type: ignore[attr-defined]
        await interaction.client.docs.remove(interaction, name)  # type: ignore[attr-defined]
