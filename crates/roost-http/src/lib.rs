//! Roost's HTTP edge.
//!
//! The only crate that knows about HTTP: routes, parameter decoding ([`params`]), the answer
//! envelope and the mapping of errors to status codes ([`envelope`]), the Telegram dialect of the
//! Bot API ([`bot_api`]) and the client API with its event stream ([`client_api`]). Every handler
//! decodes a typed request, calls [`roost_core::Core`], and encodes the typed result.

pub mod bot_api;
pub mod client_api;
pub mod envelope;
pub mod params;
pub mod webhook;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::IntoResponse;
use roost_core::Core;
use roost_types::ApiError;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

/// The whole HTTP application over a core.
pub fn app(core: Core) -> Router {
    Router::new()
        .merge(client_api::router())
        .merge(bot_api::router())
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .fallback(|| async { envelope::HttpError(ApiError::NOT_FOUND).into_response() })
        .layer(DefaultBodyLimit::max(params::BODY_LIMIT))
        // Trace spans carry the method and the path's *route*, never the URI: a bot's URI holds its
        // token, which must not reach the logs.
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            let span = tracing::debug_span!("request", method = %req.method(), route = tracing::field::Empty);
            // Looked up only when the span is kept (debug logging): not a cost of every request.
            if !span.is_disabled()
                && let Some(route) = req.extensions().get::<axum::extract::MatchedPath>()
            {
                span.record("route", route.as_str());
            }
            span
        }))
        .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            tracing::error!("a request handler panicked");
            envelope::HttpError(ApiError::INTERNAL).into_response()
        }))
        .with_state(core)
}
