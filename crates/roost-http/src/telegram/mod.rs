//! The Bot API in the Telegram dialect: `/bot<token>/<method>`.
//!
//! `errors` holds the dialect's words for every error kind.
//!
//! Method names are case-insensitive; parameters come in any of the four encodings (see
//! [`Params`]). The token is checked before the method name, as Telegram does, so an unknown
//! method with a bad token answers `401 Unauthorized`; and before the body is read, so a request
//! with a wrong token costs no more than its head. Only GET and POST are served: any other HTTP
//! method gets `501 Not Implemented` with no body, as from Telegram's server.

use axum::Router;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{Method as HttpMethod, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use roost_core::Core;
use roost_store::UserId;

use roost_types::ApiError;

pub mod errors;
mod known;

/// This dialect's name, as webhooks record it.
pub const DIALECT: &str = roost_core::DEFAULT_DIALECT;

use crate::envelope::{Answer, HttpError};
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
    if req.method() != HttpMethod::GET && req.method() != HttpMethod::POST {
        return StatusCode::NOT_IMPLEMENTED.into_response();
    }
    // Boxed, as the reading of the parameters below: a waiting long poll holds this future, and
    // inline each step's state would be part of every poll's memory (1 KB a poll, measured).
    let refused = |bot: UserId, error: HttpError| {
        note_refused(&core, bot, method, &error.0, &errors::describe(&error.0));
        error.into_response()
    };
    let bot = match Box::pin(authenticate(&core, segment)).await {
        Ok(bot) => bot,
        Err((None, e)) => return e.into_response(),
        Err((Some(bot), e)) => return refused(bot, e),
    };
    let params = match Box::pin(Params::from_request(req, &())).await {
        Ok(params) => params,
        Err(rejection) => return refused(bot, rejection),
    };
    match dispatch(&core, bot, method, params).await {
        Ok(response) => response,
        Err(e) => refused(bot, e),
    }
}

/// The bot a call is from, within its rate limit; a refusal names the bot once it is known.
async fn authenticate(core: &Core, segment: &str) -> Result<UserId, (Option<UserId>, HttpError)> {
    let token = segment.strip_prefix("bot").ok_or((None, HttpError(ApiError::NOT_FOUND)))?;
    let bot = core.authenticate_bot(token).await.map_err(|e| (None, e.into()))?;
    core.check_bot_rate(bot).await.map_err(|e| (Some(bot), e.into()))?;
    Ok(bot)
}

/// Adds a refused call to the bot's error log, for its owner (`getBotErrors`), in the words the
/// bot was answered with.
pub(crate) fn note_refused(core: &Core, bot: UserId, method: &str, error: &ApiError, description: &str) {
    let method: String = method.chars().take(64).collect();
    core.log_bot_error(bot, roost_core::ErrorSource::Call, Some(&method), error.status(), description);
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

/// Runs one Bot API method for an authenticated bot; `method` in any case.
pub async fn dispatch(core: &Core, bot: UserId, method: &str, params: Params) -> Answer {
    match find_method(method) {
        Some(found) => (found.call)(core, bot, params).await,
        None => match known::KNOWN.iter().find(|name| name.eq_ignore_ascii_case(method)) {
            Some(name) => Err(ApiError::with(roost_types::ErrorKind::MethodNotServed, name).into()),
            None => Err(ApiError::NOT_FOUND.into()),
        },
    }
}

/// Every Bot API method Roost serves, by family (one file each; the busiest first: messages,
/// then updates). `docs/compatibility.md`'s coverage table is checked against it by a test.
pub static FAMILIES: &[&[Method]] = &[messages::METHODS, updates::METHODS, bots::METHODS];

/// Every method, family by family.
pub fn methods() -> impl Iterator<Item = &'static Method> {
    FAMILIES.iter().flat_map(|family| family.iter())
}

/// The method of that name, in any case.
pub fn find_method(name: &str) -> Option<&'static Method> {
    methods().find(|m| m.name.eq_ignore_ascii_case(name))
}

/// A Bot API method Roost serves: its name, as Telegram spells it, and its handler.
pub struct Method {
    pub name: &'static str,
    call: for<'a> fn(&'a Core, UserId, Params) -> futures_util::future::BoxFuture<'a, Answer>,
}

/// Declares a family's method table: each row a name and a body over `core`, `bot` and `params`.
/// Each body becomes a function of its own, and the family's `METHODS` lists them, in the order
/// given (the busiest first: [`find_method`] looks in that order).
macro_rules! methods {
    ($($name:literal $handler:ident |$core:ident, $bot:ident, $params:ident| $body:expr;)*) => {
        $(
            #[allow(unused_variables)]
            fn $handler<'a>($core: &'a Core, $bot: roost_store::UserId, $params: Params)
                -> futures_util::future::BoxFuture<'a, Answer> {
                Box::pin(async move { $body })
            }
        )*
        /// This family's methods.
        pub(super) static METHODS: &[Method] = &[$(Method { name: $name, call: $handler }),*];
    };
}

// The families, after the macro they use.
mod bots;
mod messages;
mod updates;

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows of docs/compatibility.md's method tables (up to the update types' table): each
    /// method's name and whether it says "yes".
    fn coverage_table() -> Vec<(String, bool)> {
        let doc =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/compatibility.md"))
                .unwrap_or_else(|e| panic!("{e}"));
        let tables = doc.split("### Update types").next().unwrap_or_default();
        tables
            .lines()
            .filter_map(|line| {
                let mut cells = line.split('|').map(str::trim).skip(1);
                let name = cells.next()?.strip_prefix('`')?.strip_suffix('`')?;
                Some((name.to_owned(), cells.next()?.starts_with("yes")))
            })
            .collect()
    }

    /// docs/compatibility.md's coverage table says "yes" for exactly the methods served.
    #[test]
    fn the_coverage_table_lists_the_method_table() {
        let mut documented: Vec<String> =
            coverage_table().into_iter().filter(|(_, yes)| *yes).map(|(name, _)| name).collect();
        documented.sort_unstable();
        let mut served: Vec<&str> = methods().map(|m| m.name).collect();
        served.sort_unstable();
        assert_eq!(documented, served, "docs/compatibility.md's \"yes\" rows and the method table");
    }

    /// docs/compatibility.md's coverage table lists exactly the known methods, and every served
    /// method is a known one.
    #[test]
    fn the_coverage_table_lists_every_known_method() {
        let mut documented: Vec<String> = coverage_table().into_iter().map(|(name, _)| name).collect();
        documented.sort_unstable();
        let mut known = known::KNOWN.to_vec();
        known.sort_unstable();
        assert_eq!(documented, known);
        for method in methods() {
            assert!(known::KNOWN.contains(&method.name), "{} is not a known method", method.name);
        }
    }

    #[test]
    fn methods_are_found_in_any_case() {
        assert_eq!(find_method("sendmessage").map(|m| m.name), Some("sendMessage"));
        assert_eq!(find_method("SENDMESSAGE").map(|m| m.name), Some("sendMessage"));
        assert!(find_method("sendPhoto").is_none());
        let mut names: Vec<String> = methods().map(|m| m.name.to_ascii_lowercase()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), methods().count(), "a method is listed twice");
    }
}
