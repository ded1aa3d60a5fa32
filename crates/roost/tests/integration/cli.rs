//! The operator's command line (`roost admin …`), and what reaches the logs.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::must;
use crate::durability::{Process, call, login};

/// `roost admin <args>` with `stdin`; (success, stdout, stderr).
fn roost_admin(
    data: &Path,
    database: Option<&str>,
    args: &[&str],
    stdin: Option<&str>,
) -> (bool, String, String) {
    let mut child = must(
        Command::new(env!("CARGO_BIN_EXE_roost"))
            .arg("admin")
            .args(args)
            // After the subcommand: accepted there too.
            .arg("--data")
            .arg(data)
            .envs(database.map(|url| ("ROOST_DATABASE", url)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn(),
    );
    if let (Some(mut input), Some(text)) = (child.stdin.take(), stdin) {
        must(input.write_all(text.as_bytes()));
    }
    let output = must(child.wait_with_output());
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A command that must succeed; its standard output.
fn ok(data: &Path, database: Option<&str>, args: &[&str], stdin: Option<&str>) -> String {
    let (success, stdout, stderr) = roost_admin(data, database, args, stdin);
    assert!(success, "roost admin {args:?}: {stderr}");
    stdout
}

/// A command that must fail; its standard error.
fn refused(data: &Path, database: Option<&str>, args: &[&str], stdin: Option<&str>) -> String {
    let (success, stdout, stderr) = roost_admin(data, database, args, stdin);
    assert!(!success, "roost admin {args:?} succeeded: {stdout}");
    stderr
}

#[tokio::test]
async fn admin_never_makes_an_empty_database_by_mistake() {
    let dir = must(tempfile::tempdir());
    let database = crate::common::fresh_database().await;
    let db = database.as_deref();
    let said = refused(dir.path(), db, &["list-users"], None);
    assert!(said.contains("there is no Roost database at") && said.contains("--create"), "{said}");
    if db.is_none() {
        assert!(!dir.path().join("roost.db").exists(), "nothing was created");
    }
    // With --create it starts one, and says which.
    let (success, _, stderr) = roost_admin(dir.path(), db, &["list-users", "--create"], None);
    assert!(success, "{stderr}");
    assert!(stderr.contains("roost: database "), "{stderr}");
    if let Some(password) =
        db.and_then(|d| url::Url::parse(d).ok()).and_then(|u| u.password().map(str::to_owned))
    {
        assert!(!stderr.contains(&password), "the database password is not shown: {stderr}");
    }
}

#[tokio::test]
async fn admin_manages_people_and_bots_and_states_the_rules() {
    let dir = must(tempfile::tempdir());
    let database = crate::common::fresh_database().await;
    let (data, db) = (dir.path(), database.as_deref());
    ok(data, db, &["list-users", "--create"], None);

    // Passwords from standard input; without one and without a terminal, a clear refusal.
    let id = ok(
        data,
        db,
        &["create-user", "olgak", "--first-name", "Olga", "--password-stdin"],
        Some("correct horse\n"),
    );
    assert!(id.trim().parse::<i64>().is_ok(), "{id}");
    let said = refused(data, db, &["create-user", "pavel"], Some(""));
    assert!(said.contains("no password: pass --password-stdin"), "{said}");
    let said = refused(data, db, &["create-user", "x1", "--password-stdin"], Some("correct horse\n"));
    assert!(said.contains("USERNAME_INVALID: 5-32 characters of a-z, 0-9 and _"), "{said}");
    let said = refused(data, db, &["create-user", "pavel", "--password-stdin"], Some("short\n"));
    assert!(said.contains("PASSWORD_INVALID: 8-256 characters"), "{said}");
    let said = refused(data, db, &["create-bot", "--owner", "olgak", "--username", "nobotname"], None);
    assert!(said.contains("end in \"bot\""), "{said}");

    let users = ok(data, db, &["list-users"], None);
    assert!(users.contains("@olgak") && users.contains("Olga"), "{users}");
    assert!(!users.contains("BotMama"), "bots are not people: {users}");

    let token =
        ok(data, db, &["create-bot", "--owner", "olgak", "--username", "olga_bot", "--name", "Olga's"], None);
    let token = token.trim().to_owned();
    let bots = ok(data, db, &["list-bots", "--owner", "olgak"], None);
    assert!(bots.contains("@olga_bot") && bots.contains("owner @olgak"), "{bots}");
    let shown = ok(data, db, &["show-bot", "olga_bot"], None);
    for line in [
        "privacy mode:     on",
        "pending updates:  0",
        "webhook:          none (getUpdates)",
        "owner:            @olgak",
    ] {
        assert!(shown.contains(line), "{line:?} in {shown}");
    }
    ok(data, db, &["set-privacy", "@olga_bot", "off"], None);
    assert!(ok(data, db, &["show-bot", "olga_bot"], None).contains("privacy mode:     off"));
    let said = refused(data, db, &["set-privacy", "olga_bot", "maybe"], None);
    assert!(said.contains("possible values: on, off"), "{said}");

    let fresh = ok(data, db, &["revoke-token", "olga_bot"], None);
    let fresh = fresh.trim();
    assert!(fresh.starts_with(token.split(':').next().unwrap_or_default()) && fresh != token);

    // The server sees it all, and the old token is dead.
    let server = Process::start(data, db);
    let http = reqwest::Client::new();
    let base = format!("http://{}", server.addr);
    let old = must(http.post(format!("{base}/bot{token}/getMe")).send().await);
    assert_eq!(old.status().as_u16(), 401);
    let me = call(&http, format!("{base}/bot{fresh}/getMe"), None, json!({})).await;
    assert_eq!(me["can_read_all_group_messages"], true);
    let session = login(&http, &base, "olgak").await;
    let key =
        call(&http, format!("{base}/client/v1/createApiKey"), Some(&session), json!({"name": "old"})).await;
    let key = key["key"].as_str().unwrap_or_default().to_owned();

    // Beside the running server: a new password ends her sessions (and closes her event stream
    // within seconds, not at the next ping), a revoked token and a deleted bot stop working
    // within the second the server takes to notice.
    let url = format!("ws://{}/client/v1/events?token={session}", server.addr);
    let (mut stream, _) = must(tokio_tungstenite::connect_async(url).await);
    ok(data, db, &["reset-password", "olgak", "--password-stdin"], Some("battery staple\n"));
    assert!(
        crate::client_api::closes_within(&mut stream, Duration::from_secs(5)).await,
        "the event stream outlived the password reset"
    );
    let after = must(http.post(format!("{base}/client/v1/getMe")).bearer_auth(&session).send().await);
    assert_eq!(after.status().as_u16(), 401);
    let after = must(http.post(format!("{base}/client/v1/getMyBots")).bearer_auth(&key).send().await);
    assert_eq!(after.status().as_u16(), 401, "API keys end with a password reset too");
    let newest = ok(data, db, &["revoke-token", "olga_bot"], None);
    wait_for_status(&http, &format!("{base}/bot{fresh}/getMe"), 401).await;
    let said = refused(data, db, &["delete-bot", "olga_bot"], Some(""));
    assert!(said.contains("delete-bot cannot be undone: pass --yes"), "{said}");
    ok(data, db, &["delete-bot", "olga_bot", "--yes"], None);
    wait_for_status(&http, &format!("{base}/bot{}/getMe", newest.trim()), 401).await;
    let said = refused(data, db, &["create-bot", "--owner", "olgak", "--username", "OLGA_BOT"], None);
    assert!(said.contains("USERNAME_OCCUPIED"), "the name stays reserved: {said}");

    let deleted = ok(data, db, &["delete-user", "olgak", "--yes"], None);
    assert!(deleted.contains("deleted @olgak"), "{deleted}");
    assert!(ok(data, db, &["list-users"], None).contains("deleted"));
    let said = refused(data, db, &["show-user", "olgak"], None);
    assert!(said.contains("user not found"), "{said}");
    drop(server);
}

async fn wait_for_status(http: &reqwest::Client, url: &str, status: u16) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let got = must(http.post(url).send().await).status().as_u16();
        if got == status {
            return;
        }
        assert!(Instant::now() < deadline, "{url} still answers {got}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// No token, password, API key or invite code reaches the log, at any level.
#[tokio::test]
async fn secrets_never_reach_the_log() {
    let dir = must(tempfile::tempdir());
    let database = crate::common::fresh_database().await;
    let (data, db) = (dir.path(), database.as_deref());
    ok(data, db, &["create-user", "samuel", "--password-stdin", "--create"], Some("secret horse 1\n"));
    let token =
        ok(data, db, &["create-bot", "--owner", "samuel", "--username", "sams_bot"], None).trim().to_owned();
    let invite = ok(data, db, &["create-invite"], None).trim().to_owned();
    let server = Process::start_logging(&[], data, db, &[], "trace");
    let http = reqwest::Client::new();
    let base = format!("http://{}", server.addr);
    let session = login_with(&http, &base, "samuel", "secret horse 1").await;
    let key =
        call(&http, format!("{base}/client/v1/createApiKey"), Some(&session), json!({"name": "k"})).await;
    let key = key["key"].as_str().unwrap_or_default().to_owned();
    let made = call(
        &http,
        format!("{base}/client/v1/createBot"),
        Some(&key),
        json!({"name": "T", "username": "traced_bot"}),
    )
    .await;
    let made_token = made["token"].as_str().unwrap_or_default().to_owned();
    let revoked = call(
        &http,
        format!("{base}/client/v1/revokeBotToken"),
        Some(&session),
        json!({"username": "traced_bot"}),
    )
    .await;
    let revoked_token = revoked["token"].as_str().unwrap_or_default().to_owned();
    // Calls that succeed, fail, and fail on a bad token.
    call(&http, format!("{base}/bot{token}/getMe"), None, json!({})).await;
    let _ = http.post(format!("{base}/bot{token}/sendMessage")).json(&json!({"chat_id": 1})).send().await;
    let _ = http.post(format!("{base}/bot{made_token}/getMe")).send().await;
    let _ = http.post(format!("{base}/bot{token}x/getUpdates?token={token}")).send().await;
    let _ = http
        .post(format!("{base}/client/v1/login"))
        .json(&json!({"username": "samuel", "password": "wrong password"}))
        .send()
        .await;
    call(&http, format!("{base}/client/v1/getMe"), Some(&session), json!({})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = server.log_lines().join("\n");
    assert!(log.len() > 1000, "the trace log is there: {log}");
    // Each request is one line at info: the API, its method, the status and the time taken.
    let answered = server
        .log_lines()
        .into_iter()
        .find(|l| l.contains("INFO") && l.contains("call=sendMessage") && l.contains("status=400"));
    let answered = must(answered.ok_or_else(|| {
        let lines: Vec<String> =
            server.log_lines().into_iter().filter(|l| l.contains("sendMessage")).collect();
        format!("no request line for the refused sendMessage: {lines:?}")
    }));
    assert!(answered.contains("api=bot") && answered.contains("latency="), "{answered}");
    let secret_of = |token: &str| token.split(':').nth(1).unwrap_or(token).to_owned();
    for secret in [
        "secret horse 1".to_owned(),
        "wrong password".to_owned(),
        secret_of(&token),
        secret_of(&made_token),
        secret_of(&revoked_token),
        session.clone(),
        key.clone(),
        invite.clone(),
    ] {
        assert!(!secret.is_empty());
        assert!(!log.contains(&secret), "a secret reached the log: {secret}");
    }
}

async fn login_with(http: &reqwest::Client, base: &str, username: &str, password: &str) -> String {
    let result = call(
        http,
        format!("{base}/client/v1/login"),
        None,
        json!({"username": username, "password": password}),
    )
    .await;
    result["token"].as_str().unwrap_or_default().to_owned()
}
