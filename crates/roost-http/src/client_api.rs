//! The client API: how a person (the web client, a test, a script) uses the messenger.
//!
//! `GET|POST /client/v1/<method>` with the Bot API's envelope and parameter rules, authenticated by
//! `Authorization: Bearer <session token>` (except `register` and `login`), and the live event
//! stream at `GET /client/v1/events` (WebSocket). The session is checked before the body is read;
//! `register` and `login`, which have none, read at most [`SIGN_IN_BODY_LIMIT`] bytes.

use roost_store::UserId;
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use roost_core::{Core, Manager, SignIn};
use roost_types::ApiError;
use serde::Deserialize;

use crate::envelope::{Answer, HttpError, ok};
use crate::params::Params;

pub fn router() -> Router<Core> {
    Router::new().route("/client/v1/events", get(events)).route("/client/v1/{method}", any(client_method))
}

/// The session token of a request: `Authorization: Bearer …`, or `?token=` (browsers cannot set
/// headers on a WebSocket).
struct SessionToken(Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for SessionToken {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, HttpError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(|v| v.trim().to_owned());
        let query = parts.uri.query().and_then(|q| {
            form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "token").map(|(_, v)| v.into_owned())
        });
        Ok(SessionToken(header.or(query)))
    }
}

impl SessionToken {
    async fn person(&self, core: &Core) -> Result<UserId, HttpError> {
        let token = self.0.as_deref().ok_or(ApiError::CLIENT_UNAUTHORIZED)?;
        Ok(core.authenticate_session(token).await?)
    }

    /// The person a session token or a personal API key (`roost_…`) acts for, and whether it
    /// was a key.
    async fn caller(&self, core: &Core) -> Result<(UserId, bool), HttpError> {
        match self.0.as_deref() {
            Some(key) if roost_core::is_api_key(key) => Ok((core.authenticate_api_key(key).await?, true)),
            _ => Ok((self.person(core).await?, false)),
        }
    }
}

/// The largest body `register` and `login` read: they are answered before anyone is known.
pub const SIGN_IN_BODY_LIMIT: usize = 16 * 1024;
/// How long `register` and `login` wait for their body: a client trickling one byte at a time
/// must not hold a connection without credentials.
pub const SIGN_IN_BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// The client's address, as the connection layer found it (the peer, or the address a trusted
/// proxy forwarded for): what the per-address sign-in limits count.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub std::net::IpAddr);

/// A connection's place under the connection cap (`server.rs`), handed to the event stream a
/// connection becomes: the stream holds it for as long as it runs.
#[derive(Clone)]
pub struct ConnectionSlot(pub std::sync::Arc<tokio::sync::OwnedSemaphorePermit>);

/// `ANY /client/v1/<method>`.
async fn client_method(
    State(core): State<Core>,
    Path(method): Path<String>,
    token: SessionToken,
    req: Request,
) -> Answer {
    if req.method() != Method::GET && req.method() != Method::POST {
        return Err(ApiError::METHOD_NOT_ALLOWED.into());
    }
    let method = method.to_ascii_lowercase();
    if method == "register" || method == "login" {
        let sign_in = SignIn {
            address: req.extensions().get::<ClientAddress>().map(|a| a.0),
            device: req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
        };
        let params =
            tokio::time::timeout(SIGN_IN_BODY_TIMEOUT, Params::read_limited(req, SIGN_IN_BODY_LIMIT))
                .await
                .map_err(|_| ApiError::REQUEST_TIMEOUT)??;
        return match method.as_str() {
            "register" => Ok(ok(&core.register(params.parse()?, sign_in).await?)),
            _ => Ok(ok(&core.login(params.parse()?, sign_in).await?)),
        };
    }
    let (person, by_key) = token.caller(&core).await?;
    let params = Params::from_request(req, &()).await?;
    let session = || token.0.clone().unwrap_or_default();
    let owner = Manager::Owner(person);
    // The owner API: a session or an API key.
    match method.as_str() {
        "getme" => return Ok(ok(&core.me(person).await?)),
        "createbot" => return Ok(ok(&core.create_own_bot(person, params.parse()?).await?)),
        "getmybots" => return Ok(ok(&core.my_bots(person).await?)),
        "getbot" => return Ok(ok(&core.managed_bot(owner, params.parse()?).await?)),
        "editbot" => return Ok(ok(&core.edit_bot(owner, params.parse()?).await?)),
        "deletebot" => return Ok(ok(&core.delete_bot(owner, params.parse()?).await?)),
        "revokebottoken" => return Ok(ok(&core.revoke_bot_token(owner, params.parse()?).await?)),
        "getbottoken" => return Ok(ok(&core.bot_token(owner, params.parse()?).await?)),
        "getboterrors" => return Ok(ok(&core.bot_errors(owner, params.parse()?).await?)),
        "getbotinfo" => return Ok(ok(&core.bot_info(params.parse()?).await?)),
        _ if by_key => return Err(ApiError::SESSION_REQUIRED.into()),
        _ => {}
    }
    // Everything else: a session only.
    match method.as_str() {
        "createapikey" => Ok(ok(&core.create_api_key(person, params.parse()?).await?)),
        "listapikeys" => Ok(ok(&core.api_keys(person).await?)),
        "revokeapikey" => Ok(ok(&core.revoke_api_key(person, params.parse()?).await?)),
        "createinvite" => Ok(ok(&core.create_invite(owner).await?)),
        "issuejwt" => Ok(ok(&core.issue_jwt(&session()).await?)),
        "logout" => Ok(ok(&core.logout(&session()).await?)),
        "getsessions" => Ok(ok(&core.sessions(&session()).await?)),
        "terminatesession" => Ok(ok(&core.terminate_session(&session(), params.parse()?).await?)),
        "terminateothersessions" => Ok(ok(&core.terminate_other_sessions(&session()).await?)),
        "resolveusername" => Ok(ok(&core.resolve_username(params.text("username")).await?)),
        "openprivatechat" => Ok(ok(&core.open_private_chat(person, params.parse()?).await?)),
        "sendmessage" => Ok(ok(&core.person_send(person, params.parse()?).await?)),
        "gethistory" => Ok(ok(&core.history(person, params.parse()?).await?)),
        "getchats" => Ok(ok(&core.chat_list(person).await?)),
        "editmessage" => Ok(ok(&core.person_edit(person, params.parse()?).await?)),
        "deletemessages" => Ok(ok(&core.person_delete(person, params.parse()?).await?)),
        "setreaction" => Ok(ok(&core.person_react(person, params.parse()?).await?)),
        "pressbutton" => Ok(ok(&core.press_button(person, params.parse()?).await?)),
        "getbotcommands" => Ok(ok(&core.person_bot_commands(person, params.parse()?).await?)),
        _ => Err(ApiError::NOT_FOUND.into()),
    }
}

#[derive(Deserialize)]
struct EventsQuery {
    /// Replay events with a greater `seq` before going live. Without it the stream starts live.
    after: Option<String>,
}

/// `GET /client/v1/events`: the person's live event stream, over WebSocket, or as
/// Server-Sent Events for a request that does not ask to upgrade (`curl -N` watches it).
///
/// The first frame is `{"type":"ready","seq":N}`, N being the sequence number the stream resumes
/// after; then every event as `{"seq":…,"type":"message",…}` in order. A client that reconnects with
/// `?after=<last seq it saw>` misses nothing.
async fn events(
    State(core): State<Core>,
    token: SessionToken,
    slot: Option<axum::Extension<ConnectionSlot>>,
    Query(query): Query<EventsQuery>,
    req: Request,
) -> Response {
    let person = match token.person(&core).await {
        Ok(person) => person,
        Err(e) => return e.into_response(),
    };
    let after = match query.after.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => match text.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => {
                return HttpError(ApiError::AFTER_INVALID).into_response();
            }
        },
    };
    let (mut parts, _) = req.into_parts();
    let upgrade = if parts.headers.contains_key(header::UPGRADE) {
        match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
            Ok(upgrade) => Some(upgrade),
            Err(rejection) => return rejection.into_response(),
        }
    } else {
        None
    };
    // Subscribe before reading where the stream starts, so nothing committed in between is lost.
    let wake = core.hub().subscribe_user(person);
    let start = match after {
        Some(n) => n,
        None => match core.last_event_seq(person).await {
            Ok(n) => n,
            Err(e) => return HttpError::from(e).into_response(),
        },
    };
    let session = Session { token: token.0.unwrap_or_default(), _slot: slot.map(|s| s.0) };
    match upgrade {
        // Small buffers: tens of thousands of mostly idle streams must fit in little memory, and
        // clients send nothing but control frames (events are server → client only).
        Some(upgrade) => {
            upgrade.read_buffer_size(1024).write_buffer_size(0).max_message_size(64 * 1024).on_upgrade(
                move |socket| {
                    stream_events(core, person, session, start, wake, Outlet::Socket(Box::new(socket)))
                },
            )
        }
        None => {
            let (sender, receiver) = tokio::sync::mpsc::channel::<String>(SSE_BUFFER);
            tokio::spawn(stream_events(core, person, session, start, wake, Outlet::Sse(sender)));
            let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
                let text = receiver.recv().await?;
                let event = if text.is_empty() {
                    axum::response::sse::Event::default().comment("ping")
                } else {
                    axum::response::sse::Event::default().data(text)
                };
                Some((Ok::<_, std::convert::Infallible>(event), receiver))
            });
            axum::response::sse::Sse::new(stream).into_response()
        }
    }
}

/// Events waiting to be written to a Server-Sent Events stream.
const SSE_BUFFER: usize = 64;

/// Where a stream's events go: a WebSocket, or the body of a Server-Sent Events response.
enum Outlet {
    Socket(Box<WebSocket>),
    /// An empty string is a keep-alive comment.
    Sse(tokio::sync::mpsc::Sender<String>),
}

impl Outlet {
    /// Sends one event; false once the client is gone.
    async fn send(&mut self, text: String) -> bool {
        match self {
            Outlet::Socket(socket) => socket.send(WsMessage::Text(text.into())).await.is_ok(),
            Outlet::Sse(sender) => sender.send(text).await.is_ok(),
        }
    }

    async fn ping(&mut self) -> bool {
        match self {
            Outlet::Socket(socket) => socket.send(WsMessage::Ping(Default::default())).await.is_ok(),
            Outlet::Sse(sender) => sender.send(String::new()).await.is_ok(),
        }
    }

    /// Resolves when the client has gone (a WebSocket's close or error; an SSE body dropped).
    /// Frames a client sends otherwise are read and ignored (pongs are answered by the
    /// WebSocket layer; client text is not a command channel).
    async fn gone(&mut self) {
        match self {
            Outlet::Socket(socket) => loop {
                match socket.recv().await {
                    None | Some(Err(_)) | Some(Ok(WsMessage::Close(_))) => return,
                    Some(Ok(_)) => {}
                }
            },
            Outlet::Sse(sender) => sender.closed().await,
        }
    }

    async fn close(self) {
        if let Outlet::Socket(mut socket) = self {
            let _ = socket.send(WsMessage::Close(None)).await;
        }
    }
}

const PING_EVERY: Duration = Duration::from_secs(30);
const REPLAY_BATCH: i64 = 200;

/// What an event stream holds for its session: the token, checked again at every ping (a session
/// ended elsewhere — `logout`, `terminateSession`, expiry — ends its streams within a ping), and
/// its connection's place under the cap.
struct Session {
    token: String,
    _slot: Option<ConnectionSlot>,
}

/// How often at most a stream looks at its session again when woken.
const SESSION_RECHECK: Duration = Duration::from_secs(1);

/// Whether the stream's session still exists (a store failure is not taken for an ended session).
/// Boxed: inline, the lookup's state would make every idle stream's task larger.
async fn session_lives(core: &Core, session: &Session) -> bool {
    let check = Box::pin(core.authenticate_session(&session.token));
    !matches!(check.await, Err(roost_core::Error::Api(_)))
}

async fn stream_events(
    core: Core,
    person: UserId,
    session: Session,
    mut cursor: i64,
    mut wake: tokio::sync::watch::Receiver<i64>,
    mut outlet: Outlet,
) {
    let mut closing = core.hub().closing();
    let mut checked = std::time::Instant::now();
    // A wake that came too soon after the last look: looked at once the second is over (boxed:
    // most streams never have one, and an idle stream's task stays small).
    let mut look_due: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.reset();
    let ready = serde_json::json!({"type": "ready", "seq": cursor}).to_string();
    if !outlet.send(ready).await {
        return;
    }
    loop {
        let page = match core.events_after(person, cursor, REPLAY_BATCH).await {
            Ok(page) => page,
            Err(e) => {
                let _ = HttpError::from(e);
                break;
            }
        };
        for event in &page.events {
            let Ok(text) = serde_json::to_string(event) else { continue };
            if !outlet.send(text).await {
                return;
            }
        }
        // Past what was read, left-out events included: a page of deleted messages alone must
        // not stop the replay.
        cursor = page.through;
        if page.more {
            continue;
        }
        if *closing.borrow_and_update() {
            break;
        }
        tokio::select! {
            changed = wake.changed() => {
                if changed.is_err() {
                    break;
                }
                // A wake may be a session ending (`Hub::nudge_user`): look, at most once a second.
                if checked.elapsed() >= SESSION_RECHECK {
                    if !session_lives(&core, &session).await {
                        break;
                    }
                    checked = std::time::Instant::now();
                    look_due = None;
                } else if look_due.is_none() {
                    let at = tokio::time::Instant::from_std(checked + SESSION_RECHECK);
                    look_due = Some(Box::pin(tokio::time::sleep_until(at)));
                }
            }
            () = async { if let Some(due) = look_due.as_mut() { due.await } }, if look_due.is_some() => {
                look_due = None;
                if !session_lives(&core, &session).await {
                    break;
                }
                checked = std::time::Instant::now();
            }
            _ = closing.changed() => break,
            _ = ping.tick() => {
                if !session_lives(&core, &session).await {
                    break;
                }
                checked = std::time::Instant::now();
                if !outlet.ping().await {
                    return;
                }
            }
            () = outlet.gone() => return,
        }
    }
    outlet.close().await;
}
