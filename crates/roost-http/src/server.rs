//! Serving connections: accepting under a cap, choosing the protocol, timeouts, and shutdown.
//!
//! Roost accepts connections itself rather than through `axum::serve`, for memory per idle
//! connection (measured with `roost-bench idle`, see docs/performance.md) and to bound what one
//! client can hold (docs/security.md).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use roost_core::Core;
use roost_store::NowAndThen;
use tokio::net::TcpListener;

/// How the server treats connections.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// How long a client may take to send a request's head, counted from when the connection
    /// opened or its last answer was sent: so also how long a kept-alive HTTP/1.1 connection may
    /// stay idle.
    pub header_timeout: Duration,
    /// Most connections open at once; more are accepted and closed at once.
    pub max_connections: usize,
    /// How long requests in flight may take to finish once shutdown began.
    pub shutdown_grace: Duration,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Arc<[ipnet::IpNet]>,
    /// Where Koto's gateway is (`/koto`).
    pub koto_prefix: String,
}

/// Accept errors and refused connections are logged at most once a second each.
static ACCEPT_FAILED: NowAndThen = NowAndThen::new(Duration::from_secs(1));
static REFUSED: NowAndThen = NowAndThen::new(Duration::from_secs(1));

/// Serves the HTTP application over `core` on `listener` until `shutdown` completes; then stops
/// accepting, ends every long poll and event stream, and waits for the connections to finish
/// their requests (each at most the shutdown grace).
pub async fn serve(
    listener: TcpListener,
    core: Core,
    options: HttpOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let app = crate::app(core.clone(), options.koto_prefix.clone());
    // Connections watch `draining`; each holds a clone of `open` until it ends, so the server
    // knows when the last one has finished.
    let (draining, _) = tokio::sync::watch::channel(false);
    let (open, mut all_closed) = tokio::sync::mpsc::channel::<()>(1);
    let slots = Arc::new(tokio::sync::Semaphore::new(options.max_connections));
    let limits = ConnectionLimits { header_timeout: options.header_timeout, grace: options.shutdown_grace };
    let proxies = Arc::clone(&options.trusted_proxies);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                        // Full: closed at once, which frees its descriptor; the client sees the
                        // connection reset and may retry.
                        drop(stream);
                        if let Some(held_back) = REFUSED.check() {
                            tracing::warn!(
                                max_connections = options.max_connections,
                                refused_since_last_line = held_back,
                                "connection limit reached; refusing new connections"
                            );
                        }
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let connection = Connection {
                        peer,
                        limits,
                        proxies: Arc::clone(&proxies),
                        draining: draining.subscribe(),
                        _open: open.clone(),
                        slot: Arc::new(slot),
                    };
                    tokio::spawn(serve_connection(stream, app.clone(), connection));
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment instead of spinning.
                    if let Some(held_back) = ACCEPT_FAILED.check() {
                        tracing::warn!(error = %e, failed_since_last_line = held_back, "cannot accept a connection");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    tracing::info!("shutting down");
    drop(listener);
    // Waiting long polls and event streams return now, so in-flight requests finish fast.
    core.hub().close();
    draining.send_replace(true);
    drop(open);
    let _ = all_closed.recv().await;
}

#[derive(Debug, Clone, Copy)]
struct ConnectionLimits {
    header_timeout: Duration,
    grace: Duration,
}

/// What a connection's task holds besides its socket.
struct Connection {
    peer: std::net::SocketAddr,
    limits: ConnectionLimits,
    proxies: Arc<[ipnet::IpNet]>,
    /// Turns true when shutdown begins.
    draining: tokio::sync::watch::Receiver<bool>,
    /// Dropped when the connection ends: the server waits for all of them at shutdown.
    _open: tokio::sync::mpsc::Sender<()>,
    /// Its place under the connection cap, shared with the event stream it may become.
    slot: Arc<tokio::sync::OwnedSemaphorePermit>,
}

/// Serves one connection (HTTP/1.1 with upgrades to WebSocket, or HTTP/2 with prior knowledge)
/// until it ends or, after `draining` turns true, until its requests in flight are answered.
///
/// Two choices differ from `axum::serve`, both for memory per idle connection (measured with
/// `roost-bench idle`, see docs/performance.md):
/// - The protocol is chosen from the first bytes, read here and handed on in front of the rest
///   ([`Sniffed`]), instead of hyper-util's auto builder, which keeps a buffer of its own for
///   every connection.
/// - HTTP/1 half-close: otherwise hyper keeps reading a connection while its request is being
///   handled (to notice a client that went away) and holds a second 8 KiB read buffer for every
///   waiting long poll. A poll whose client vanished simply runs to its timeout or is superseded
///   by the bot's next poll; nothing is confirmed by an answer nobody read.
///
/// A client must send a request's head within the header timeout of connecting or of its last
/// answer (hyper's timer on HTTP/1.1; on HTTP/2, pings keep only live peers).
async fn serve_connection<A>(mut stream: tokio::net::TcpStream, app: A, connection: Connection)
where
    A: tower::Service<
            axum::extract::Request,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + Sync
        + 'static,
    A::Future: Send + 'static,
{
    use tower::ServiceExt;
    let Connection { peer, limits, proxies, mut draining, slot, .. } = connection;
    let service = hyper_util::service::TowerToHyperService::new(app.map_request(
        move |req: axum::http::Request<hyper::body::Incoming>| {
            let mut req = req.map(axum::body::Body::new);
            // Only the client API reads it (the sign-in limits): other requests skip the work.
            if req.uri().path().starts_with("/client/") {
                let address = client_address(peer.ip(), req.headers(), &proxies);
                req.extensions_mut().insert(crate::client_api::ClientAddress(address));
                // An event stream outlives the HTTP connection it upgraded: it keeps the slot.
                if req.uri().path() == "/client/v1/events" {
                    req.extensions_mut().insert(crate::client_api::ConnectionSlot(Arc::clone(&slot)));
                }
            }
            req
        },
    ));
    // A client that connected and has sent nothing yet must not hold the shutdown up, nor its
    // slot for longer than the header timeout.
    let head = tokio::select! {
        head = tokio::time::timeout(limits.header_timeout, read_head(&mut stream)) => match head {
            Ok(Ok(Some(head))) => head,
            _ => return, // closed, failed or silent before sending enough to tell
        },
        _ = draining.changed() => return,
    };
    let http2 = head.is_http2();
    let io = hyper_util::rt::TokioIo::new(Sniffed { head, stream });
    let timer = hyper_util::rt::TokioTimer::new();
    let result = if http2 {
        let mut builder = hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new());
        builder
            .enable_connect_protocol()
            .timer(timer)
            .keep_alive_interval(Some(HTTP2_PING_EVERY))
            .keep_alive_timeout(HTTP2_PING_TIMEOUT);
        // Boxed: the HTTP/1 path, nearly every connection, does not pay for its size.
        let mut conn = Box::pin(builder.serve_connection(io, service));
        tokio::select! {
            result = conn.as_mut() => result,
            _ = draining.changed() => {
                conn.as_mut().graceful_shutdown();
                finish_within_grace(conn.as_mut(), limits.grace).await
            }
        }
    } else {
        let conn = hyper::server::conn::http1::Builder::new()
            .half_close(true)
            .timer(timer)
            .header_read_timeout(limits.header_timeout)
            .serve_connection(io, service)
            .with_upgrades();
        let mut conn = std::pin::pin!(conn);
        tokio::select! {
            result = conn.as_mut() => result,
            // `draining` only ever turns true (or its sender goes away with the server).
            _ = draining.changed() => {
                conn.as_mut().graceful_shutdown();
                finish_within_grace(conn.as_mut(), limits.grace).await
            }
        }
    };
    if let Err(e) = result {
        tracing::trace!(error = %e, "connection ended with an error");
    }
}

/// The client behind a connection: the peer, unless the peer is a trusted proxy; then the
/// nearest address in `X-Forwarded-For` (read from the right) that is not itself a trusted proxy.
/// An entry that is not an address (with or without a port) ends the walk there: what lies to its
/// left was written by someone the proxies did not vouch for, so the proxy itself is the client.
/// IPv4 addresses written as IPv6 (`::ffff:a.b.c.d`, as a dual-stack listener sees them) are
/// compared as IPv4.
fn client_address(
    peer: std::net::IpAddr,
    headers: &axum::http::HeaderMap,
    proxies: &[ipnet::IpNet],
) -> std::net::IpAddr {
    let peer = peer.to_canonical();
    let trusted = |ip: &std::net::IpAddr| proxies.iter().any(|range| range.contains(ip));
    if !trusted(&peer) {
        return peer;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.to_str().unwrap_or(""))
        .flat_map(|v| v.split(','))
        .collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        match forwarded_address(entry) {
            Some(ip) if trusted(&ip) => client = ip,
            Some(ip) => return ip,
            None => return client,
        }
    }
    client
}

/// An address as a proxy writes it in `X-Forwarded-For`: `a.b.c.d`, `a.b.c.d:port`, an IPv6
/// address, or `[v6]:port`.
fn forwarded_address(entry: &str) -> Option<std::net::IpAddr> {
    let entry = entry.trim();
    let address = entry
        .parse::<std::net::IpAddr>()
        .ok()
        .or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))?;
    Some(address.to_canonical())
}

/// HTTP/2 connections are pinged this often when idle, and closed when a ping goes unanswered
/// this long.
const HTTP2_PING_EVERY: Duration = Duration::from_secs(30);
const HTTP2_PING_TIMEOUT: Duration = Duration::from_secs(20);

async fn finish_within_grace<F, E>(conn: F, grace: Duration) -> Result<(), E>
where
    F: Future<Output = Result<(), E>>,
{
    match tokio::time::timeout(grace, conn).await {
        Ok(result) => result,
        Err(_) => {
            tracing::debug!("a connection did not finish within the shutdown grace period");
            Ok(())
        }
    }
}

/// The first bytes of a connection, read to tell HTTP/2 with prior knowledge (`PRI …`) from
/// HTTP/1.1 (no method starts with `PRI`).
#[derive(Debug, Clone, Copy)]
struct Head {
    bytes: [u8; 3],
    len: u8,
    /// How many of them were handed on.
    taken: u8,
}

impl Head {
    fn is_http2(&self) -> bool {
        &self.bytes[..usize::from(self.len)] == b"PRI"
    }
}

/// Reads as few bytes as tell the protocol; `None` if the connection closed first. Reading
/// rather than peeking: a peek at a socket whose client sent a byte and closed returns that byte
/// for ever, and a loop waiting for more would never end.
async fn read_head(stream: &mut tokio::net::TcpStream) -> std::io::Result<Option<Head>> {
    use tokio::io::AsyncReadExt;
    let mut head = Head { bytes: [0; 3], len: 0, taken: 0 };
    while usize::from(head.len) < head.bytes.len() {
        let read = stream.read(&mut head.bytes[usize::from(head.len)..]).await?;
        if read == 0 {
            return Ok(None);
        }
        head.len += read as u8;
        if !b"PRI".starts_with(&head.bytes[..usize::from(head.len)]) {
            break;
        }
    }
    Ok(Some(head))
}

/// A connection with the bytes [`read_head`] took put back in front.
struct Sniffed {
    head: Head,
    stream: tokio::net::TcpStream,
}

impl tokio::io::AsyncRead for Sniffed {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let (taken, len) = (usize::from(this.head.taken), usize::from(this.head.len));
        if taken < len {
            let n = (len - taken).min(buf.remaining());
            buf.put_slice(&this.head.bytes[taken..taken + n]);
            this.head.taken += n as u8;
            // And whatever else has arrived, in the same read: handed the head alone, hyper
            // would find a partial request, and reserve a second read buffer's worth beside the
            // bytes it holds (a 16 KiB buffer for every long poll instead of 8 KiB).
            if buf.remaining() > 0 {
                // Pending or an error: the head is an answer already; the error comes again on
                // the next read, and the waker is registered either way.
                let _ = std::pin::Pin::new(&mut this.stream).poll_read(cx, buf);
            }
            return std::task::Poll::Ready(Ok(()));
        }
        std::pin::Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Sniffed {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_the_nearest_address_no_trusted_proxy_wrote() {
        let proxies: Vec<ipnet::IpNet> =
            ["127.0.0.1/32", "10.0.0.0/8"].iter().filter_map(|p| p.parse().ok()).collect();
        let ip =
            |text: &str| text.parse::<std::net::IpAddr>().unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
        let client = |peer: &str, forwarded: &str| {
            let mut headers = axum::http::HeaderMap::new();
            if let Ok(value) = forwarded.parse() {
                headers.insert("x-forwarded-for", value);
            }
            client_address(ip(peer), &headers, &proxies)
        };
        // An untrusted peer is the client whatever it claims.
        assert_eq!(client("198.51.100.1", "203.0.113.9"), ip("198.51.100.1"));
        // Behind the proxies, the nearest address they did not write themselves.
        assert_eq!(client("127.0.0.1", "1.1.1.1, 203.0.113.9, 10.0.0.2"), ip("203.0.113.9"));
        // A dual-stack listener's view of the proxy, and ports after the addresses.
        assert_eq!(client("::ffff:127.0.0.1", "203.0.113.9:5555"), ip("203.0.113.9"));
        assert_eq!(client("127.0.0.1", "[2001:db8::1]:443"), ip("2001:db8::1"));
        // Something that is not an address stops the walk: nothing left of it is believed.
        assert_eq!(client("127.0.0.1", "203.0.113.9, unknown"), ip("127.0.0.1"));
        assert_eq!(client("127.0.0.1", "203.0.113.9, garbage, 10.0.0.2"), ip("10.0.0.2"));
        assert_eq!(client("127.0.0.1", ""), ip("127.0.0.1"));
    }
}
