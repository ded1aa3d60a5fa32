//! Roost's HTTP edge.
//!
//! The only crate that knows about HTTP: routes, parameter decoding ([`params`]), the answer
//! envelope and the mapping of errors to status codes ([`envelope`]), the Telegram dialect of the
//! Bot API ([`telegram`]) and the client API with its event stream ([`client_api`]). Every handler
//! decodes a typed request, calls [`roost_core::Core`], and encodes the typed result.

pub mod client_api;
pub mod envelope;
pub mod params;
pub mod server;
pub mod telegram;
pub mod webhook;
pub mod wwchat;

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::response::{IntoResponse, Response};
use futures_util::future::Either;
use roost_core::Core;
use roost_types::ApiError;
use tower::{Layer, Service};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

/// The whole HTTP application over a core: a service each connection clones.
///
/// Bot API method calls (`/bot<token>/<method>`, nearly all of a bot platform's traffic) go
/// straight to their handler; everything else goes through axum's router. Routing a method call
/// (matching it, percent-decoding both segments into the request and extracting them again) was
/// about a sixth of an HTTP worker's instructions per `sendMessage` (callgrind). Both paths have
/// the same layers, and a method call answers exactly as its route does.
pub fn app(
    core: Core,
) -> App<impl Service<Request, Response = Response, Error = Infallible, Future: Send> + Clone> {
    let router = Router::new()
        .merge(client_api::router())
        .merge(telegram::router())
        .merge(wwchat::router())
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .fallback(|| async { envelope::HttpError(ApiError::NOT_FOUND).into_response() })
        .layer(DefaultBodyLimit::max(params::BODY_LIMIT))
        .layer(trace_layer())
        .layer(catch_panic_layer())
        .with_state(core.clone());
    let handler = tower::service_fn(move |req: Request| {
        let core = core.clone();
        // Boxed: the future holds the state of whichever method runs (a large enum), and the
        // layers and hyper's glue move it several times before its first poll; a box moves as
        // a pointer (a quarter less `memcpy` per call under callgrind, net of the allocation).
        Box::pin(async move { Ok::<_, Infallible>(telegram::method_call_direct(core, req).await) })
    });
    // In the order `Router::layer` gives them: the last added is the outermost.
    let layered = catch_panic_layer()
        .layer(trace_layer().layer(DefaultBodyLimit::max(params::BODY_LIMIT).layer(handler)));
    let method_calls = tower::util::MapResponseLayer::new(|response: axum::http::Response<_>| {
        response.map(axum::body::Body::new)
    })
    .layer(layered);
    App { router, method_calls }
}

/// See [`app`].
#[derive(Clone)]
pub struct App<M> {
    router: Router,
    method_calls: M,
}

impl<M> Service<Request> for App<M>
where
    M: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<axum::routing::future::RouteFuture<Infallible>, M::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The router is always ready.
        self.method_calls.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        if telegram::method_call(req.uri().path()).is_some() {
            Either::Right(self.method_calls.call(req))
        } else {
            Either::Left(self.router.call(req))
        }
    }
}

/// Trace spans carry the method and the path's *route*, never the URI: a bot's URI holds its
/// token, which must not reach the logs.
fn trace_layer() -> TraceLayer<
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
    fn(&Request) -> tracing::Span,
> {
    fn span(req: &Request) -> tracing::Span {
        let span = tracing::debug_span!("request", method = %req.method(), route = tracing::field::Empty);
        // Looked up only when the span is kept (debug logging): not a cost of every request.
        if !span.is_disabled() {
            match req.extensions().get::<axum::extract::MatchedPath>() {
                Some(route) => {
                    span.record("route", route.as_str());
                }
                // A method call that bypassed the router: its route is known.
                None if telegram::method_call(req.uri().path()).is_some() => {
                    span.record("route", "/{bot_token}/{method}");
                }
                None => {}
            }
        }
        span
    }
    TraceLayer::new_for_http().make_span_with(span as fn(&Request) -> tracing::Span)
}

fn catch_panic_layer() -> CatchPanicLayer<fn(Box<dyn std::any::Any + Send>) -> Response> {
    fn answer(_: Box<dyn std::any::Any + Send>) -> Response {
        tracing::error!("a request handler panicked");
        envelope::HttpError(ApiError::INTERNAL).into_response()
    }
    CatchPanicLayer::custom(answer as fn(Box<dyn std::any::Any + Send>) -> Response)
}
