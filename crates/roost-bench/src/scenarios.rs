//! The scenarios and the world they run in.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::future::join_all;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use roost_types::requests::Register;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::Options;
use crate::report::{CpuShare, Samples, print_row};
use crate::servers::ChildServer;

/// People, bots and their chats on a server.
struct World {
    base: String,
    http: reqwest::Client,
    bots: Vec<(i64, String)>,
    people: Vec<(i64, String)>,
    server: Option<ChildServer>,
    _dir: Option<tempfile::TempDir>,
}

fn http_client(connections: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(connections.max(1))
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(90))
        .build()?)
}

async fn call(
    http: &reqwest::Client,
    url: String,
    auth: Option<&str>,
    body: &Value,
) -> anyhow::Result<Value> {
    let mut request = http.post(url).json(body);
    if let Some(token) = auth {
        request = request.bearer_auth(token);
    }
    let answer: Value = request.send().await?.json().await?;
    if answer["ok"] != true {
        bail!("call failed: {answer}");
    }
    Ok(answer["result"].clone())
}

impl World {
    /// Creates `bots` bots (through the store, as `roost admin` does) and `people` people (through
    /// the client API), has every person write to every bot with `chats`, and empties the queues.
    async fn build(o: &Options, bots: usize, people: usize, chats: bool) -> anyhow::Result<World> {
        let run =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.subsec_nanos() % 1_000_000;
        let (dir, data) = match &o.data {
            Some(data) => (None, data.clone()),
            None => {
                let dir = tempfile::tempdir()?;
                let path = dir.path().to_owned();
                (Some(dir), path)
            }
        };
        let mut config = roost::Config::with_data_dir(&data);
        if let Some(url) = &o.database {
            config.database = url.clone();
        }
        let core = roost::open_core(&config).await?;
        let owner = format!("owner{run}x");
        core.create_user(Register {
            username: Some(owner.clone()),
            password: Some("bench password".into()),
            first_name: Some("Owner".into()),
            ..Register::default()
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut created = Vec::with_capacity(bots);
        for chunk in (0..bots).collect::<Vec<_>>().chunks(256) {
            let batch = chunk.iter().map(|i| {
                let core = core.clone();
                let owner = owner.clone();
                async move { core.create_bot(&owner, &format!("b{run}x{i}bot"), Some("Bench")).await }
            });
            for bot in join_all(batch).await {
                let bot = bot.map_err(|e| anyhow::anyhow!("{e}"))?;
                created.push((bot.bot.profile.id, bot.token));
            }
        }
        core.close().await;
        drop(core);

        let (base, server) = match &o.url {
            Some(url) => (url.trim_end_matches('/').to_owned(), None),
            None => {
                let data = data.to_str().context("data path")?.to_owned();
                let mut args = vec!["serve-child", "--data", &data];
                if let Some(url) = &o.database {
                    args.extend(["--database", url.as_str()]);
                }
                let server = ChildServer::spawn(&args).await?;
                (server.base.clone(), Some(server))
            }
        };
        let http = http_client(o.connections)?;
        let mut registered = Vec::new();
        for i in 0..people {
            let body = json!({"username": format!("p{run}x{i}"), "password": "bench password", "first_name": "Person"});
            let session = call(&http, format!("{base}/client/v1/register"), None, &body).await?;
            registered.push((
                session["user"]["id"].as_i64().unwrap_or(0),
                session["token"].as_str().unwrap_or("").to_owned(),
            ));
        }
        let world = World { base, http, bots: created, people: registered, server, _dir: dir };
        if chats {
            let pairs: Vec<(String, i64)> = world
                .people
                .iter()
                .flat_map(|(_, session)| world.bots.iter().map(move |(bot, _)| (session.clone(), *bot)))
                .collect();
            let url = format!("{}/client/v1/sendMessage", world.base);
            let writes = pairs.iter().map(|(session, bot)| {
                let body = json!({"chat_id": bot, "text": "/start"});
                let (http, url) = (&world.http, url.clone());
                async move { call(http, url, Some(session), &body).await }
            });
            for result in join_all(writes).await {
                result?;
            }
            for (_, token) in &world.bots {
                call(
                    &world.http,
                    format!("{}/bot{token}/deleteWebhook", world.base),
                    None,
                    &json!({"drop_pending_updates": true}),
                )
                .await?;
            }
        }
        Ok(world)
    }

    async fn stop(self) {
        if let Some(server) = self.server {
            server.stop().await;
        }
    }
}

/// One request of a closed loop: a path on the server and its JSON body, serialised once.
#[derive(Clone)]
struct Prepared {
    path: String,
    body: Bytes,
}

/// The requests of a closed loop against `base` (`http://host:port`), from full URLs and bodies.
fn prepare(base: &str, requests: &[(String, Value)]) -> anyhow::Result<(String, Arc<Vec<Prepared>>)> {
    let host = base.strip_prefix("http://").context("the server's address is not http://")?.to_owned();
    let prepared = requests
        .iter()
        .map(|(url, body)| {
            let path = url.strip_prefix(base).context("a request for another server")?.to_owned();
            Ok(Prepared { path, body: Bytes::from(serde_json::to_vec(body)?) })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((host, Arc::new(prepared)))
}

/// Closed-loop load: `connections` tasks, each on a keep-alive connection of its own, sending
/// requests back to back for `duration`.
///
/// Each task drives hyper's client connection itself, with its requests prepared in advance: the
/// generator shares the machine with the server it measures, and a general-purpose client (URL
/// parsing, a connection pool, a task per connection) spent more per request than the baseline
/// server's whole answer.
async fn closed_loop(
    host: &str,
    requests: Arc<Vec<Prepared>>,
    connections: usize,
    duration: Duration,
) -> (Samples, Duration) {
    let started = Instant::now();
    let deadline = started + duration;
    let tasks = (0..connections).map(|task| {
        let host = host.to_owned();
        let requests = Arc::clone(&requests);
        tokio::spawn(async move {
            let mut samples = Samples::default();
            if let Err(e) = connection_loop(&host, &requests, task, connections, deadline, &mut samples).await
            {
                report_failed_connection(&e);
                samples.errors += 1;
            }
            samples
        })
    });
    let mut all = Samples::default();
    for samples in join_all(tasks).await.into_iter().flatten() {
        all.merge(samples);
    }
    (all, started.elapsed())
}

/// One connection of [`closed_loop`]: requests `task`, `task + step`, … until `deadline`.
async fn connection_loop(
    host: &str,
    requests: &[Prepared],
    task: usize,
    step: usize,
    deadline: Instant,
    samples: &mut Samples,
) -> anyhow::Result<()> {
    let stream = tokio::net::TcpStream::connect(host).await?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream)).await?;
    let mut connection = std::pin::pin!(connection);
    let mut n = task;
    while Instant::now() < deadline {
        let Prepared { path, body } = &requests[n % requests.len()];
        n += step;
        let request = hyper::Request::post(path.as_str())
            .header(hyper::header::HOST, host)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body.clone()))?;
        let begun = Instant::now();
        // The connection is driven here too, while the answer is awaited.
        let answered = async {
            let response = sender.send_request(request).await?;
            let ok = response.status().is_success();
            response.into_body().collect().await?;
            Ok::<_, hyper::Error>(ok)
        };
        let ok = tokio::select! {
            answered = answered => answered?,
            closed = &mut connection => {
                closed?;
                bail!("the server closed the connection");
            }
        };
        if ok {
            samples.record(begun.elapsed());
        } else {
            samples.errors += 1;
        }
    }
    Ok(())
}

/// A connection that failed is counted as an error; the first few are also printed.
fn report_failed_connection(e: &anyhow::Error) {
    static PRINTED: AtomicUsize = AtomicUsize::new(0);
    if PRINTED.fetch_add(1, Ordering::Relaxed) < 3 {
        eprintln!("a load connection failed: {e:#}");
    }
}

/// `send`: bots send into their chats, with `baseline` measured in the same run.
///
/// The two loads take turns in rounds of about two seconds (Roost, baseline, baseline, Roost, …)
/// until each has had `duration`: these machines drift in speed within minutes, and interleaving
/// keeps the ratio from reading that drift.
async fn send_and_baseline(o: &Options) -> anyhow::Result<(Value, Value)> {
    let world = World::build(o, o.bots, o.people, true).await?;
    let base = world.base.as_str();
    let requests: Vec<(String, Value)> = world
        .bots
        .iter()
        .flat_map(|(_, token)| {
            world.people.iter().map(move |(person, _)| {
                (
                    format!("{base}/bot{token}/sendMessage"),
                    json!({"chat_id": person, "text": "bench message"}),
                )
            })
        })
        .collect();
    let (host, requests) = prepare(base, &requests)?;
    let baseline_server = ChildServer::spawn(&["baseline-child"]).await?;
    let (baseline_host, baseline_requests) =
        prepare(&baseline_server.base, &baseline_requests(&baseline_server.base))?;
    let rounds = if o.smoke { 1 } else { o.duration.div_ceil(2).max(1) };
    let round = Duration::from_secs_f64(o.duration as f64 / rounds as f64);
    let (mut sent, mut sent_for) = (Samples::default(), Duration::ZERO);
    let (mut answered, mut answered_for) = (Samples::default(), Duration::ZERO);
    // CPU per request of each server and of the load generator, from /proc: a measure that, unlike
    // a rate, does not move when the machine's neighbours do.
    let roost_pid = world.server.as_ref().and_then(|s| s.child.id());
    let baseline_pid = baseline_server.child.id();
    let (mut roost_cpu, mut baseline_cpu) = (CpuShare::default(), CpuShare::default());
    for turn in 0..rounds {
        for roost_now in if turn % 2 == 0 { [true, false] } else { [false, true] } {
            if roost_now {
                let load = closed_loop(&host, Arc::clone(&requests), o.connections, round);
                let (samples, elapsed) = roost_cpu.measure(roost_pid, load).await;
                sent.merge(samples);
                sent_for += elapsed;
            } else {
                let load = closed_loop(&baseline_host, Arc::clone(&baseline_requests), o.connections, round);
                let (samples, elapsed) = baseline_cpu.measure(baseline_pid, load).await;
                answered.merge(samples);
                answered_for += elapsed;
            }
        }
    }
    baseline_server.stop().await;
    let mut answered = answered.summary(answered_for);
    baseline_cpu.annotate(&mut answered);
    let mut result = sent.summary(sent_for);
    roost_cpu.annotate(&mut result);
    if let Some(server) = &world.server {
        result["cold_start_ms"] = json!(server.cold_start.as_secs_f64() * 1000.0);
    }
    world.stop().await;
    Ok((result, answered))
}

/// The request shape of `send`, addressed to the minimal handler.
fn baseline_requests(base: &str) -> Vec<(String, Value)> {
    (0..64)
        .map(|i| {
            (
                format!("{base}/bot1000000001:token/sendMessage"),
                json!({"chat_id": 1_000_000_000 + i, "text": "bench message"}),
            )
        })
        .collect()
}

/// `baseline` alone: the request shape of `send` against the minimal handler.
async fn baseline(o: &Options) -> anyhow::Result<Value> {
    let server = ChildServer::spawn(&["baseline-child"]).await?;
    let (host, requests) = prepare(&server.base, &baseline_requests(&server.base))?;
    let (samples, elapsed) =
        closed_loop(&host, requests, o.connections, Duration::from_secs(o.duration)).await;
    server.stop().await;
    Ok(samples.summary(elapsed))
}

/// Messages sent at a fixed rate, each with an id in its text, and how long each took to arrive
/// (`deliver`, `stream`).
#[derive(Clone, Default)]
struct Arrivals {
    sent: Arc<Mutex<HashMap<u64, Instant>>>,
    received: Arc<Mutex<Samples>>,
}

impl Arrivals {
    /// A message arrived at `now`: records it if its text is `prefix` and an id this sent.
    async fn arrived(&self, text: Option<&str>, prefix: &str, now: Instant) {
        let Some(id) = text.and_then(|t| t.strip_prefix(prefix)).and_then(|s| s.parse::<u64>().ok()) else {
            return;
        };
        let started = self.sent.lock().await.remove(&id);
        if let Some(started) = started {
            self.received.lock().await.record(now - started);
        }
    }

    /// Sends `--rate` messages a second for `--duration` seconds, in turn to each of `targets`
    /// (a method's URL, the session if any, and the `chat_id`), with the text `prefix` and an id;
    /// waits up to five seconds for the last to arrive; returns the latencies. A message that
    /// failed or never arrived counts as an error.
    async fn offer(
        &self,
        o: &Options,
        http: &reqwest::Client,
        targets: &[(String, Option<String>, i64)],
        prefix: &'static str,
    ) -> Value {
        let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / o.rate.max(1) as f64));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let started = Instant::now();
        let deadline = started + Duration::from_secs(o.duration);
        let mut next = 0u64;
        let mut sends = Vec::new();
        while Instant::now() < deadline && !targets.is_empty() {
            ticker.tick().await;
            let (url, auth, chat_id) = targets[next as usize % targets.len()].clone();
            let (http, sent, id) = (http.clone(), Arc::clone(&self.sent), next);
            next += 1;
            sends.push(tokio::spawn(async move {
                sent.lock().await.insert(id, Instant::now());
                let body = json!({"chat_id": chat_id, "text": format!("{prefix}{id}")});
                call(&http, url, auth.as_deref(), &body).await.is_ok()
            }));
        }
        let elapsed = started.elapsed();
        let failed = join_all(sends).await.into_iter().filter(|r| !matches!(r, Ok(true))).count();
        // Let the last ones arrive.
        let drain = Instant::now();
        while !self.sent.lock().await.is_empty() && drain.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut samples = std::mem::take(&mut *self.received.lock().await);
        samples.errors = failed as u64 + self.sent.lock().await.len() as u64;
        let mut result = samples.summary(elapsed);
        result["offered_per_second"] = json!(o.rate);
        result
    }
}

/// `deliver`: people write at a fixed rate; bots long-poll; latency from the person's request to
/// the bot's poll returning the update.
async fn deliver(o: &Options) -> anyhow::Result<Value> {
    let world = World::build(o, o.bots, o.people, true).await?;
    let arrivals = Arrivals::default();
    let stop = Arc::new(tokio::sync::Notify::new());
    let pollers: Vec<_> = world
        .bots
        .iter()
        .map(|(_, token)| {
            let (http, url) = (world.http.clone(), format!("{}/bot{token}/getUpdates", world.base));
            let (arrivals, stop) = (arrivals.clone(), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut offset = 0i64;
                loop {
                    let body = json!({"offset": offset, "timeout": 30});
                    let poll = call(&http, url.clone(), None, &body);
                    let updates = tokio::select! {
                        updates = poll => updates,
                        _ = stop.notified() => return,
                    };
                    let Ok(Value::Array(updates)) = updates else { continue };
                    let now = Instant::now();
                    for update in updates {
                        offset = offset.max(update["update_id"].as_i64().unwrap_or(0) + 1);
                        arrivals.arrived(update["message"]["text"].as_str(), "d:", now).await;
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let url = format!("{}/client/v1/sendMessage", world.base);
    let targets: Vec<_> = world
        .people
        .iter()
        .flat_map(|(_, session)| world.bots.iter().map(|(bot, _)| (url.clone(), Some(session.clone()), *bot)))
        .collect();
    let result = arrivals.offer(o, &world.http, &targets, "d:").await;
    stop.notify_waiters();
    for poller in pollers {
        poller.abort();
    }
    world.stop().await;
    Ok(result)
}

/// `stream`: bots write to people at a fixed rate while each person's event stream is open;
/// latency from the bot's request to the message's frame on the person's stream. Each person is in
/// a chat with every bot, so each read of a stream looks into all of them (the timeline).
async fn stream(o: &Options) -> anyhow::Result<Value> {
    let world = World::build(o, o.bots, o.people, true).await?;
    let arrivals = Arrivals::default();
    let ws_base = world.base.replace("http://", "ws://");
    let mut readers = Vec::with_capacity(world.people.len());
    for (_, session) in &world.people {
        let url = format!("{ws_base}/client/v1/events?token={session}");
        let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
        socket.next().await; // the "ready" frame
        let arrivals = arrivals.clone();
        readers.push(tokio::spawn(async move {
            while let Some(Ok(frame)) = socket.next().await {
                let Ok(text) = frame.to_text() else { continue };
                let Ok(event) = serde_json::from_str::<Value>(text) else { continue };
                arrivals.arrived(event["message"]["text"].as_str(), "s:", Instant::now()).await;
            }
        }));
    }
    let targets: Vec<_> = world
        .bots
        .iter()
        .flat_map(|(_, token)| {
            let url = format!("{}/bot{token}/sendMessage", world.base);
            world.people.iter().map(move |(person, _)| (url.clone(), None, *person))
        })
        .collect();
    let result = arrivals.offer(o, &world.http, &targets, "s:").await;
    for reader in readers {
        reader.abort();
    }
    world.stop().await;
    Ok(result)
}

/// `webhook`: a backlog of messages delivered by webhook to a local keep-alive receiver.
async fn webhook(o: &Options) -> anyhow::Result<Value> {
    let world = World::build(o, o.bots, o.people, true).await?;
    let count = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&count);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let counter = Arc::clone(&counter);
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                drop(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hook = format!("http://{}/hook", listener.local_addr()?);
    let receiver = tokio::spawn(async move { axum::serve(listener, app).await });
    // The backlog, written while no webhook is set.
    let pairs: Arc<Vec<(String, i64)>> = Arc::new(
        world
            .people
            .iter()
            .flat_map(|(_, session)| world.bots.iter().map(move |(bot, _)| (session.clone(), *bot)))
            .collect(),
    );
    let per_task = o.messages.div_ceil(o.connections.max(1));
    let url = format!("{}/client/v1/sendMessage", world.base);
    let writers = (0..o.connections.max(1)).map(|task| {
        let (http, pairs, url) = (world.http.clone(), Arc::clone(&pairs), url.clone());
        async move {
            for n in 0..per_task {
                let (session, bot) = &pairs[(task + n * 7) % pairs.len()];
                let _ = call(&http, url.clone(), Some(session), &json!({"chat_id": bot, "text": "backlog"}))
                    .await;
            }
        }
    });
    join_all(writers).await;
    let total = per_task * o.connections.max(1);
    let started = Instant::now();
    for (_, token) in &world.bots {
        call(
            &world.http,
            format!("{}/bot{token}/setWebhook", world.base),
            None,
            &json!({"url": hook, "max_connections": 40}),
        )
        .await?;
    }
    while count.load(Ordering::Relaxed) < total && started.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    let delivered = count.load(Ordering::Relaxed);
    receiver.abort();
    world.stop().await;
    Ok(json!({
        "count": delivered,
        "backlog": total,
        "seconds": elapsed.as_secs_f64(),
        "per_second": delivered as f64 / elapsed.as_secs_f64().max(1e-9),
        "errors": total.saturating_sub(delivered),
    }))
}

/// `idle`: N waiting long polls and N open event streams; the server's memory.
async fn idle(o: &Options) -> anyhow::Result<Value> {
    let (poll_count, stream_count) = (o.polls.unwrap_or(o.idle), o.streams.unwrap_or(o.idle));
    let world = World::build(o, poll_count, 1, false).await?;
    let rss_before = world.server.as_ref().and_then(ChildServer::rss_mb);
    let session = world.people[0].1.clone();
    let ws_url = format!("{}/client/v1/events?token={session}", world.base.replace("http://", "ws://"));
    let mut streams = Vec::with_capacity(stream_count);
    for chunk in (0..stream_count).collect::<Vec<_>>().chunks(500) {
        let opened = join_all(chunk.iter().map(|_| async {
            let (mut socket, _) = tokio_tungstenite::connect_async(ws_url.as_str()).await?;
            socket.next().await; // the "ready" frame
            Ok::<_, anyhow::Error>(socket)
        }))
        .await;
        for socket in opened {
            streams.push(socket?);
        }
    }
    let http = http_client(poll_count)?;
    let polls: Vec<_> = world
        .bots
        .iter()
        .map(|(_, token)| {
            let (http, url) = (http.clone(), format!("{}/bot{token}/getUpdates", world.base));
            tokio::spawn(async move {
                http.post(url).json(&json!({"timeout": 50})).send().await.map(|r| r.status().as_u16())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(if o.smoke { 1 } else { 5 })).await;
    let rss_after = world.server.as_ref().and_then(ChildServer::rss_mb);
    let waiting = polls.iter().filter(|p| !p.is_finished()).count();
    for socket in &mut streams {
        let _ = socket.close(None).await;
    }
    for poll in polls {
        poll.abort();
    }
    world.stop().await;
    let connections = (poll_count + stream_count).max(1);
    Ok(json!({
        "long_polls": poll_count,
        "long_polls_still_waiting": waiting,
        "event_streams": streams.len(),
        "rss_idle_mb": rss_before,
        "rss_mb": rss_after,
        "kb_per_connection": rss_after.zip(rss_before).map(|(a, b)| (a - b) * 1024.0 / connections as f64),
    }))
}

/// Runs scenarios and reports.
pub async fn run(names: &[&str], o: &Options) -> anyhow::Result<()> {
    let mut results = serde_json::Map::new();
    println!("{:<28} {:>14}", "scenario", "throughput");
    for &name in names {
        match name {
            "send" => {
                let (mut measured, base) = send_and_baseline(o).await?;
                print_row("send", &measured);
                print_row("baseline", &base);
                let ratio = measured["per_second"].as_f64().unwrap_or(0.0)
                    / base["per_second"].as_f64().unwrap_or(1.0).max(1e-9);
                measured["ratio_to_baseline"] = json!(ratio);
                println!("{:<28} ratio_to_baseline={ratio:.2}", "send / baseline");
                results.insert("send".into(), measured);
                results.insert("baseline".into(), base);
            }
            "baseline" => {
                let base = baseline(o).await?;
                print_row("baseline", &base);
                results.insert("baseline".into(), base);
            }
            "deliver" => {
                let measured = deliver(o).await?;
                print_row("deliver", &measured);
                results.insert("deliver".into(), measured);
            }
            "stream" => {
                let measured = stream(o).await?;
                print_row("stream", &measured);
                results.insert("stream".into(), measured);
            }
            "webhook" => {
                let measured = webhook(o).await?;
                print_row("webhook", &measured);
                results.insert("webhook".into(), measured);
            }
            "idle" => {
                let measured = idle(o).await?;
                println!("{:<28} {measured}", "idle");
                results.insert("idle".into(), measured);
            }
            other => bail!("unknown scenario {other}"),
        }
    }
    if o.smoke {
        // The smoke run asserts only that every scenario produced numbers.
        for (name, result) in &results {
            let produced = result.get("per_second").and_then(Value::as_f64).is_some_and(|r| r > 0.0)
                || result.get("rss_mb").and_then(Value::as_f64).is_some_and(|r| r > 0.0);
            if !produced {
                bail!("scenario {name} produced no numbers: {result}");
            }
        }
    }
    let results = Value::Object(results);
    println!("{}", serde_json::to_string_pretty(&results)?);
    if let Some(path) = &o.json {
        std::fs::write(path, serde_json::to_string_pretty(&results)?)?;
    }
    Ok(())
}
