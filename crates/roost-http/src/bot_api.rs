//! The Bot API in the Telegram dialect: `/bot<token>/<method>`.
//!
//! Method names are case-insensitive; parameters come in any of the four encodings (see
//! [`Params`]). The token is checked before the method name, as Telegram does, so an unknown
//! method with a bad token answers `401 Unauthorized`.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::any;
use roost_core::Core;
use roost_types::ApiError;

use crate::envelope::{Answer, HttpError, ok};
use crate::params::Params;

pub fn router() -> Router<Core> {
    Router::new()
        .route("/{bot_token}/{method}", any(bot_method))
        .route("/{bot_token}/", any(missing_method))
        .route("/{bot_token}", any(missing_method))
}

/// `ANY /bot<token>/<method>`.
async fn bot_method(
    State(core): State<Core>,
    Path((segment, method)): Path<(String, String)>,
    params: Params,
) -> Answer {
    let token = segment.strip_prefix("bot").ok_or(ApiError::NOT_FOUND)?;
    let bot = core.authenticate_bot(token).await?;
    dispatch(&core, bot, &method.to_ascii_lowercase(), params).await
}

/// `/bot<token>` with no method: Telegram answers 404.
async fn missing_method() -> HttpError {
    HttpError(ApiError::NOT_FOUND)
}

/// Runs one Bot API method for an authenticated bot. `method` is lower-case.
pub async fn dispatch(core: &Core, bot: i64, method: &str, params: Params) -> Answer {
    match method {
        "getme" => Ok(ok(&core.bot_me(bot).await?)),
        "logout" | "close" => Ok(ok(&true)),
        "getupdates" => Ok(ok(&core.get_updates(bot, params.parse()?).await?)),
        "deletewebhook" => Ok(ok(&core.delete_webhook(bot, params.parse()?).await?)),
        "getwebhookinfo" => Ok(ok(&core.webhook_info(bot).await?)),
        "sendmessage" => Ok(ok(&core.bot_send(bot, params.parse()?).await?)),
        _ => Err(ApiError::NOT_FOUND.into()),
    }
}
