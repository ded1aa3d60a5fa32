//! The Telegram dialect's message methods: sending, editing, deleting, forwarding, copying,
//! pinning and reacting; chat actions; callback answers.

use roost_core::Core;
use roost_types::ApiError;
use roost_types::MessageId;
use roost_types::requests::DeleteMessage;

use super::Method;
use crate::envelope::{Answer, ok};
use crate::params::Params;

methods! {
    "sendMessage" send_message |core, bot, params| Ok(ok(&core.bot_send(bot, params.parse()?).await?));
    "answerCallbackQuery" answer_callback_query |core, bot, params| {
        Ok(ok(&core.answer_callback_query(bot, params.parse()?).await?))
    };
    "editMessageText" edit_message_text |core, bot, params| {
        Ok(ok(&core.edit_message_text(bot, params.parse()?).await?))
    };
    "sendChatAction" send_chat_action |core, bot, params| {
        Ok(ok(&core.send_chat_action(bot, params.parse()?).await?))
    };
    "editMessageCaption" edit_message_caption |core, bot, params| {
        Ok(ok(&core.edit_message_caption(bot, params.parse()?).await?))
    };
    "editMessageReplyMarkup" edit_message_reply_markup |core, bot, params| {
        Ok(ok(&core.edit_message_reply_markup(bot, params.parse()?).await?))
    };
    "deleteMessage" delete_message |core, bot, params| {
        let req: DeleteMessage = params.parse()?;
        Ok(ok(&core.bot_delete_message(bot, req.chat_id, req.message_id).await?))
    };
    "deleteMessages" delete_messages |core, bot, params| {
        Ok(ok(&core.bot_delete_messages(bot, params.parse()?).await?))
    };
    "forwardMessage" forward_message |core, bot, params| {
        let sent = core.forward_messages(bot, params.parse()?, false).await?;
        Ok(ok(&sent.into_iter().next().ok_or(ApiError::INTERNAL)?))
    };
    "forwardMessages" forward_messages |core, bot, params| {
        let sent = core.forward_messages(bot, params.parse()?, true).await?;
        let ids: Vec<MessageId> = sent.iter().map(|m| MessageId { message_id: m.message_id }).collect();
        Ok(ok(&ids))
    };
    "copyMessage" copy_message |core, bot, params| {
        let sent = core.copy_messages(bot, params.parse()?, false).await?;
        Ok(ok(&sent.into_iter().next().ok_or(ApiError::INTERNAL)?))
    };
    "copyMessages" copy_messages |core, bot, params| Ok(ok(&core.copy_messages(bot, params.parse()?, true).await?));
    "pinChatMessage" pin_chat_message |core, bot, params| Ok(ok(&core.pin_message(bot, params.parse()?).await?));
    "unpinChatMessage" unpin_chat_message |core, bot, params| {
        Ok(ok(&core.unpin_messages(bot, params.parse()?, false).await?))
    };
    "unpinAllChatMessages" unpin_all_chat_messages |core, bot, params| {
        Ok(ok(&core.unpin_messages(bot, params.parse()?, true).await?))
    };
    "setMessageReaction" set_message_reaction |core, bot, params| {
        Ok(ok(&core.bot_set_reaction(bot, params.parse()?).await?))
    };
}
