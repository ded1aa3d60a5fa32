//! The Bot API in the Telegram dialect: `/bot<token>/<method>`.
//!
//! Method names are case-insensitive; parameters come in any of the four encodings (see
//! [`Params`]). The token is checked before the method name, as Telegram does, so an unknown
//! method with a bad token answers `401 Unauthorized`; and before the body is read, so a request
//! with a wrong token costs no more than its head. Only GET and POST are served: any other HTTP
//! method gets `501 Not Implemented` with no body, as from Telegram's server.

use axum::Router;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use roost_core::Core;
use std::time::Duration;

use roost_types::ApiError;
use roost_types::MessageId;
use roost_types::requests::{DeleteMessage, SetWebhook};

use crate::envelope::{Answer, HttpError, ok};
use crate::params::Params;

pub fn router() -> Router<Core> {
    Router::new()
        .route("/{bot_token}/{method}", any(bot_method_routed))
        .route("/{bot_token}/", any(missing_method))
        .route("/{bot_token}", any(missing_method))
}

/// `ANY /bot<token>/<method>`, through the router.
async fn bot_method_routed(
    State(core): State<Core>,
    Path((segment, method)): Path<(String, String)>,
    req: Request,
) -> Response {
    bot_method(core, &segment, &method, req).await
}

/// A method call: the HTTP method, then the token, then the rate limit, and only then the body.
async fn bot_method(core: Core, segment: &str, method: &str, req: Request) -> Response {
    if req.method() != Method::GET && req.method() != Method::POST {
        return StatusCode::NOT_IMPLEMENTED.into_response();
    }
    let bot = match authenticate(&core, segment).await {
        Ok(bot) => bot,
        Err(e) => return e.into_response(),
    };
    let params = match Params::from_request(req, &()).await {
        Ok(params) => params,
        Err(rejection) => return rejection.into_response(),
    };
    dispatch(&core, bot, &method.to_ascii_lowercase(), params).await.into_response()
}

async fn authenticate(core: &Core, segment: &str) -> Result<i64, HttpError> {
    let token = segment.strip_prefix("bot").ok_or(ApiError::NOT_FOUND)?;
    let bot = core.authenticate_bot(token).await?;
    core.check_bot_rate(bot).await?;
    Ok(bot)
}

/// The token segment (`bot…`) and the method of a Bot API method call, when `path` is one the
/// router would give to [`bot_method`] and needs no percent-decoding; `None` sends the request
/// through the router (which also answers everything else).
pub(crate) fn method_call(path: &str) -> Option<(&str, &str)> {
    let (segment, method) = path.strip_prefix('/')?.split_once('/')?;
    let plain = |s: &str| !s.is_empty() && !s.bytes().any(|b| b == b'/' || b == b'%');
    (segment.starts_with("bot") && plain(segment) && plain(method)).then_some((segment, method))
}

/// A Bot API method call that [`method_call`] recognised, answered without the router: exactly
/// what [`bot_method`] answers, minus matching the route and percent-decoding its segments into
/// the request and out again.
pub(crate) async fn method_call_direct(core: Core, req: Request) -> Response {
    let Some((segment, method)) = method_call(req.uri().path()) else {
        return HttpError(ApiError::NOT_FOUND).into_response();
    };
    let (segment, method) = (segment.to_owned(), method.to_owned());
    bot_method(core, &segment, &method, req).await
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
        "setwebhook" => Ok(ok(&set_webhook(core, bot, params).await?)),
        "deletewebhook" => Ok(ok(&core.delete_webhook(bot, params.parse()?).await?)),
        "getwebhookinfo" => Ok(ok(&core.webhook_info(bot).await?)),
        "sendmessage" => Ok(ok(&core.bot_send(bot, params.parse()?).await?)),
        "editmessagetext" => Ok(ok(&core.edit_message_text(bot, params.parse()?).await?)),
        "editmessagecaption" => Ok(ok(&core.edit_message_caption(bot, params.parse()?).await?)),
        "editmessagereplymarkup" => Ok(ok(&core.edit_message_reply_markup(bot, params.parse()?).await?)),
        "deletemessage" => {
            let req: DeleteMessage = params.parse()?;
            Ok(ok(&core.bot_delete_message(bot, req.chat_id, req.message_id).await?))
        }
        "deletemessages" => Ok(ok(&core.bot_delete_messages(bot, params.parse()?).await?)),
        "forwardmessage" => {
            let sent = core.forward_messages(bot, params.parse()?, false).await?;
            Ok(ok(&sent.into_iter().next().ok_or(ApiError::INTERNAL)?))
        }
        "forwardmessages" => {
            let sent = core.forward_messages(bot, params.parse()?, true).await?;
            let ids: Vec<MessageId> = sent.iter().map(|m| MessageId { message_id: m.message_id }).collect();
            Ok(ok(&ids))
        }
        "copymessage" => {
            let sent = core.copy_messages(bot, params.parse()?, false).await?;
            Ok(ok(&sent.into_iter().next().ok_or(ApiError::INTERNAL)?))
        }
        "copymessages" => Ok(ok(&core.copy_messages(bot, params.parse()?, true).await?)),
        "pinchatmessage" => Ok(ok(&core.pin_message(bot, params.parse()?).await?)),
        "unpinchatmessage" => Ok(ok(&core.unpin_messages(bot, params.parse()?, false).await?)),
        "unpinallchatmessages" => Ok(ok(&core.unpin_messages(bot, params.parse()?, true).await?)),
        "setmessagereaction" => Ok(ok(&core.bot_set_reaction(bot, params.parse()?).await?)),
        "sendchataction" => Ok(ok(&core.send_chat_action(bot, params.parse()?).await?)),
        "answercallbackquery" => Ok(ok(&core.answer_callback_query(bot, params.parse()?).await?)),
        "setmycommands" => Ok(ok(&core.set_my_commands(bot, params.parse()?).await?)),
        "getmycommands" => Ok(ok(&core.get_my_commands(bot, params.parse()?).await?)),
        "deletemycommands" => Ok(ok(&core.delete_my_commands(bot, params.parse()?).await?)),
        "setmyname" => Ok(ok(&core.set_my_text(bot, "name", params.parse()?).await?)),
        "getmyname" => Ok(ok(&core.get_my_text(bot, "name", params.parse()?).await?)),
        "setmydescription" => Ok(ok(&core.set_my_text(bot, "description", params.parse()?).await?)),
        "getmydescription" => Ok(ok(&core.get_my_text(bot, "description", params.parse()?).await?)),
        "setmyshortdescription" => {
            Ok(ok(&core.set_my_text(bot, "short_description", params.parse()?).await?))
        }
        "getmyshortdescription" => {
            Ok(ok(&core.get_my_text(bot, "short_description", params.parse()?).await?))
        }
        "setchatmenubutton" => Ok(ok(&core.set_menu_button(bot, params.parse()?).await?)),
        "getchatmenubutton" => Ok(ok(&core.get_menu_button(bot, params.parse()?).await?)),
        _ => Err(ApiError::NOT_FOUND.into()),
    }
}

/// `setWebhook`: the edge reads the certificate upload and checks that the host resolves to a
/// public address; the core checks and stores the rest.
async fn set_webhook(core: &Core, bot: i64, params: Params) -> Result<bool, HttpError> {
    let certificate = match params.file_or_text("certificate") {
        Some(bytes) if !bytes.is_empty() => {
            reqwest::Certificate::from_pem(&bytes)
                .map_err(|_| ApiError::bad_request("bad webhook: Failed to parse the certificate"))?;
            Some(
                String::from_utf8(bytes.to_vec())
                    .map_err(|_| ApiError::bad_request("bad webhook: the certificate must be PEM text"))?,
            )
        }
        _ => None,
    };
    let mut req: SetWebhook = params.parse()?;
    req.certificate = certificate;
    let url = req.url.as_deref().unwrap_or("").trim();
    if !url.is_empty() && !core.config().allow_insecure_webhooks && req.ip_address.is_none() {
        check_host_resolves(url).await?;
    }
    Ok(core.set_webhook(bot, req).await?)
}

/// Resolves a webhook URL's host name and requires a public address among the results.
async fn check_host_resolves(url: &str) -> Result<(), ApiError> {
    let parsed = roost_core::check_webhook_url(url, false)?;
    let Some(url::Host::Domain(host)) = parsed.host() else { return Ok(()) };
    let port = parsed.port_or_known_default().unwrap_or(443);
    let lookup = tokio::time::timeout(Duration::from_secs(5), tokio::net::lookup_host((host, port))).await;
    let addrs: Vec<_> = match lookup {
        Ok(Ok(addrs)) => addrs.collect(),
        _ => {
            return Err(ApiError::bad_request(
                "bad webhook: Failed to resolve host: Name or service not known",
            ));
        }
    };
    if addrs.iter().any(|a| roost_core::is_public_ip(a.ip())) {
        Ok(())
    } else {
        Err(ApiError::bad_request("bad webhook: the host resolves only to reserved IP addresses"))
    }
}
