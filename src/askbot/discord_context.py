"""Right-click to ask: the message command Apps → "Ask askbot" answers a chosen message.

Discord sends the chosen message with the interaction, so this works without the Message
Content intent. With ASKBOT_DISCORD_CONTEXT_REPLY=public (the default) the answer is a reply to
that message that everyone sees (the clicker is told, privately, where it is); with `ephemeral`
only the clicker sees it. If the bot may not post in the channel, the answer goes to the
clicker alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

from . import discord_render as render
from .discord_origin import Origin

if TYPE_CHECKING:
    from .discord_bot import AskBot

NO_TEXT = "That message has no text to ask about."


@app_commands.context_menu(name="Ask askbot")
async def ask_context_menu(interaction: discord.Interaction, message: discord.Message) -> None:
    bot: AskBot = interaction.client  # type: ignore[assignment]
    async with bot.busy():
        await answer_message(bot, interaction, message)


async def answer_message(bot: "AskBot", interaction: discord.Interaction, message: discord.Message) -> None:
    question = message.content.strip()
    # The conversation and the cooldown are the clicker's; the place is the message's.
    origin = Origin.of(interaction.user, message.channel, interaction.guild)
    refusal = NO_TEXT if not question else bot.interaction_refusal(interaction, origin, question)
    if refusal is not None:
        await interaction.response.send_message(refusal, ephemeral=True)
        return
    public = bot.settings.discord_context_reply == "public"
    await interaction.response.defer(ephemeral=True, thinking=True)
    response = await bot.answer(question, origin)
    reply = response.reply
    if public:
        try:
            sent = await message.reply(content=reply.content, embed=reply.embed, view=response.view, mention_author=False)
        except discord.Forbidden:
            pass  # the bot may not post here: the clicker gets the answer instead
        else:
            await interaction.edit_original_response(content=render.note(f"Answered here: {sent.jump_url}"))
            return
    await interaction.edit_original_response(content=reply.content, embed=reply.embed, view=response.view)
