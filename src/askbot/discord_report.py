"""/askbot report: the question report (report.py) for this server's questions in its
collection (another server sharing the collection is never shown), visible only to the member
who asked for it, who must have Manage Server."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from . import discord_render as render
from .report import gather, report_text

if TYPE_CHECKING:
    from .discord_bot import AskBot

NOT_MANAGER = "Only server managers can see the question report."

report_group = app_commands.Group(
    name="askbot", description="askbot for server managers", guild_only=True,
    default_permissions=discord.Permissions(manage_guild=True),
)


@report_group.command(name="report", description="Questions asked, what went unanswered, answers voted down")
@app_commands.describe(days="How many days back (default 30)")
async def report_command(interaction: discord.Interaction, days: app_commands.Range[int, 1, 3650] = 30) -> None:
    bot: AskBot = interaction.client  # type: ignore[assignment]
    async with bot.busy():
        await show_report(bot, interaction, days)


async def show_report(bot: "AskBot", interaction: discord.Interaction, days: int) -> None:
    if not bot.is_manager(interaction):
        await interaction.response.send_message(NOT_MANAGER, ephemeral=True)
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    collection = bot.collection_of_interaction(interaction)
    engine = await asyncio.to_thread(bot.engines.get, collection)
    report = await asyncio.to_thread(gather, bot.question_log, bot.feedback, days, collection, engine.encode, interaction.guild_id)
    await interaction.edit_original_response(content=render.note(report_text(report)))
