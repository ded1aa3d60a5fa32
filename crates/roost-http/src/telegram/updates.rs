//! The Telegram dialect's update methods: long polling, webhooks, and the session methods
//! (`logOut`, `close`).

use roost_core::Core;

use super::{DIALECT, Method};
use crate::envelope::{Answer, ok};
use crate::params::Params;

methods! {
    "getUpdates" get_updates |core, bot, params| Ok(ok(&core.get_updates(bot, params.parse()?).await?));
    "logOut" log_out |core, bot, params| Ok(ok(&true));
    "close" close |core, bot, params| Ok(ok(&true));
    "setWebhook" set_webhook_method |core, bot, params| {
        Ok(ok(&crate::webhook::set_webhook(core, bot, params, DIALECT).await?))
    };
    "deleteWebhook" delete_webhook |core, bot, params| Ok(ok(&core.delete_webhook(bot, params.parse()?).await?));
    "getWebhookInfo" get_webhook_info |core, bot, params| Ok(ok(&core.webhook_info(bot).await?));
}
