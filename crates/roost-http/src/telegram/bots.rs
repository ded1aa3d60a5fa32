//! The Telegram dialect's methods of the bot itself: `getMe`, its commands, its names and
//! descriptions, and the menu button.

use roost_core::Core;

use super::Method;
use crate::envelope::{Answer, ok};
use crate::params::Params;

methods! {
    "getMe" get_me |core, bot, params| Ok(ok(&core.bot_me(bot).await?));
    "setMyCommands" set_my_commands |core, bot, params| Ok(ok(&core.set_my_commands(bot, params.parse()?).await?));
    "getMyCommands" get_my_commands |core, bot, params| Ok(ok(&core.get_my_commands(bot, params.parse()?).await?));
    "deleteMyCommands" delete_my_commands |core, bot, params| {
        Ok(ok(&core.delete_my_commands(bot, params.parse()?).await?))
    };
    "setMyName" set_my_name |core, bot, params| Ok(ok(&core.set_my_text(bot, "name", params.parse()?).await?));
    "getMyName" get_my_name |core, bot, params| Ok(ok(&serde_json::json!({"name": core.get_my_text(bot, "name", params.parse()?).await?})));
    "setMyDescription" set_my_description |core, bot, params| {
        Ok(ok(&core.set_my_text(bot, "description", params.parse()?).await?))
    };
    "getMyDescription" get_my_description |core, bot, params| {
        Ok(ok(&serde_json::json!({"description": core.get_my_text(bot, "description", params.parse()?).await?})))
    };
    "setMyShortDescription" set_my_short_description |core, bot, params| {
        Ok(ok(&core.set_my_text(bot, "short_description", params.parse()?).await?))
    };
    "getMyShortDescription" get_my_short_description |core, bot, params| {
        Ok(ok(&serde_json::json!({"short_description": core.get_my_text(bot, "short_description", params.parse()?).await?})))
    };
    "setChatMenuButton" set_chat_menu_button |core, bot, params| {
        Ok(ok(&core.set_menu_button(bot, params.parse()?).await?))
    };
    "getChatMenuButton" get_chat_menu_button |core, bot, params| {
        Ok(ok(&core.get_menu_button(bot, params.parse()?).await?))
    };
}
