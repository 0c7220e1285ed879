//! Every example runs, succeeds, and prints what it should.
//!
//! The examples are built once, by one `cargo build --workspace --example ...` for all:
//! `--workspace` resolves the dependencies' features as `cargo test --workspace` does, so
//! after that command the build finds everything up to date (a build of the root package
//! alone would rebuild tokio, sea-orm, axum, ... with other features). Each test then runs
//! the built binary and checks key lines of its output.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The examples checked here (each has a test below).
const EXAMPLES: &[&str] = &[
    "shop",
    "quickstart",
    "user_profile",
    "welcome_email",
    "low_stock",
    "article_deletion_log",
    "custom_signals",
    "send_vs_send_robust",
    "cache_invalidation",
    "article_publish",
    "audit_log",
    "auth_signals",
    "m2m_changed",
    "denormalized_counters",
    "request_signals",
    "migrate_signals",
    "async_welcome_email",
    "receiver_map",
    "atomic_profile",
    "observability",
];

/// A command running example `name`, built (once for all examples) if it is not up to date.
fn example(name: &str) -> Command {
    assert!(EXAMPLES.contains(&name), "add {name} to EXAMPLES");
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let mut build = Command::new(env!("CARGO"));
        build
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "--quiet", "--workspace"]);
        for example in EXAMPLES {
            build.args(["--example", example]);
        }
        let output = build.output().expect("cargo runs");
        assert!(
            output.status.success(),
            "building the examples failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    });
    // Cargo puts examples in `examples/` beside the `deps/` directory of this test binary
    // (whatever the target directory and target triple).
    let deps = std::env::current_exe().expect("the test binary's path");
    let profile_dir = deps
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test binary is in <target>/<profile>/deps");
    let path: PathBuf = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let mut command = Command::new(path);
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

/// Runs example `name` and returns its stdout; fails on a non-zero exit.
fn run_example(name: &str) -> String {
    run_example_with(name, &[])
}

/// [`run_example`] with environment variables set (and `RUST_LOG` removed unless given).
fn run_example_with(name: &str, env: &[(&str, &str)]) -> String {
    let mut run = example(name);
    run.env_remove("RUST_LOG");
    for (key, value) in env {
        run.env(key, value);
    }
    let output = run.output().expect("the example runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "example {name} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Asserts that `name`'s output contains each of `expected`, in this order.
fn assert_prints(name: &str, expected: &[&str]) -> String {
    let stdout = run_example(name);
    let mut rest = stdout.as_str();
    for line in expected {
        match rest.find(line) {
            Some(at) => rest = &rest[at + line.len()..],
            None => {
                panic!("example {name}: expected {line:?} (in this order) in its output:\n{stdout}")
            }
        }
    }
    stdout
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// The README's main command: a shop on SQLite through signals-sea-orm.
#[test]
fn shop() {
    let out = assert_prints(
        "shop",
        &[
            // A web app on loopback, driven over HTTP.
            "== a shop on axum + SQLite (in memory) at http://127.0.0.1:",
            // Users: the profile is written during the save, in the signup's transaction;
            // the email waits for the commit.
            "POST /signup  email=ada%40example.com&card=ok",
            "[request_started] POST /signup (route /signup)",
            "-> sign up ada@example.com",
            "[post_save] profile #1 of user #1 (ada@example.com) written in the signup's transaction",
            // The welcome email is an offloaded job: an outbox row in the same transaction.
            "INSERT user #1 (ada@example.com): its welcome email is an outbox job, in this transaction",
            "in the transaction: user #1: 1 user row(s), 1 profile row(s), 1 outbox job(s)",
            "COMMIT",
            // Committed together: all three rows.
            "after the COMMIT: user #1: 1 user row(s), 1 profile row(s), 1 outbox job(s)",
            // The relay hands the job to the broker after the commit; the worker runs it.
            "[worker, queue mail] job #1 (attempt 1): welcome email sent to ada@example.com after commit (user #1 visible: true)",
            "[request_finished] POST /signup -> 201, complete",
            "<- 201 welcome, user #1",
            // The rolled-back signup: its profile was written in the same transaction...
            "-> sign up mallory@example.com",
            "[post_save] profile #2 of user #2 (mallory@example.com) written in the signup's transaction",
            "in the transaction: user #2: 1 user row(s), 1 profile row(s), 1 outbox job(s)",
            "payment check failed: ROLLBACK",
            "[on rollback] signup of mallory@example.com rolled back: no user, no profile, no email",
            // ... and rolled back with the user: no row, no job.
            "after the ROLLBACK: user #2: 0 user row(s), 0 profile row(s), 0 outbox job(s)",
            "<- 402 sign-up of mallory@example.com failed: card declined",
            // Auth signals from axum-login, the password masked.
            "[user_login_failed] email=ada@example.com password=******************** (POST /login)",
            "<- 401 wrong email or password",
            "[user_logged_in] ada@example.com (POST /login)",
            // Products, orders, articles.
            "[post_save] Warning: low stock for Notebook (3 left)",
            "[OrderPlaced] admin notified: order #1 by ada@example.com: 2 x Pen",
            "[audit] Order #1 created",
            "[audit] Product #1 updated",
            "[OrderPlaced, on commit] receipt for order #1 sent to ada@example.com",
            "[post_save] Warning: low stock for Pen (3 left)",
            "<- 409 order refused: only 3 Pen left",
            "[PostSave] cache for article #1 was empty",
            "[request_started] GET /articles/1 (route /articles/{id})",
            "GET /articles/1: cache hit",
            "[PostSave] cache for article #1 invalidated",
            "[pre_delete] Article \"Signals in Rust, revised\" is about to be deleted",
            "[PostDelete] cache for article #1 invalidated",
            "[audit] Article #1 deleted",
            // Failures: a caught panic, a client that hangs up mid-stream.
            "[got_request_exception] GET /reports/stock: the handler panicked: the stock report has no stock figures yet",
            "[request_finished] GET /reports/stock -> 500, complete",
            "[request_finished] GET /orders/export -> 200, incomplete: the client went away",
            "[user_logged_out] ada@example.com (POST /logout)",
            "debug page: 200,",
            // The summary and the map.
            "users in the database: 1, profiles: 1",
            "welcome emails sent: [\"ada@example.com\"]",
            "the rolled-back signup (mallory@example.com) sent no email",
            "receiver map",
            "| OrderPlaced ",
            "shop::send_receipt",
            "shop::create_profile",
            "shop::send_welcome_email (when is_new) (offloaded to queue mail)",
            "examples/shop.rs:",
            "shop::audit_save",
        ],
    );
    assert_eq!(count(&out, "welcome email sent to"), 1, "{out}");
    assert!(!out.contains("welcome email sent to mallory"), "{out}");
    assert!(
        !out.contains("User #2"),
        "a rolled-back user is never audited:\n{out}"
    );
    assert!(
        !out.contains("Profile #2"),
        "nor the profile rolled back with it:\n{out}"
    );
    // Both of the committed signup's rows are audited after its commit.
    let (signup, rest) = out
        .split_once("after the COMMIT: user #1")
        .expect("the committed signup");
    let commit = signup.rfind("  COMMIT").expect("the COMMIT line");
    for audited in ["[audit] Profile #1 created", "[audit] User #1 created"] {
        let at = signup
            .find(audited)
            .unwrap_or_else(|| panic!("{audited}:\n{out}"));
        assert!(at > commit, "{audited} comes after the COMMIT:\n{out}");
    }
    assert!(!rest.contains("Profile #1 created"), "audited once:\n{out}");
    assert!(
        !out.contains("Order #3"),
        "a refused order is never audited:\n{out}"
    );
    assert_eq!(count(&out, "[audit]"), 11, "{out}");
    assert_eq!(
        count(&out, "[request_started]"),
        count(&out, "[request_finished]"),
        "{out}"
    );
    assert!(
        !out.lines()
            .any(|l| l.contains("[user_") && l.contains("hunter2")),
        "no receiver sees the password (only the client's own request line shows it):\n{out}"
    );
    assert!(out.contains("| commit "), "the map shows phases:\n{out}");
    assert!(out.contains("| rollback "), "{out}");
}

#[test]
fn quickstart() {
    let out = assert_prints(
        "quickstart",
        &[
            "profile created for ada@example.com",
            "welcome email sent to ada@example.com",
            "audit: User(pk=1) created",
            "audit: User(pk=1) updated",
            "profiles in the database: 1",
            "[priority 10] stock reserved for order #42",
            "[priority  0] admin notified: order #42",
            "[priority -5] receipt emailed to",
            "delivered to 3 receivers",
            "metrics: order #43 counted",
            "with the guard alive: delivered to 4 receivers",
            "after drop(guard): delivered to 3 receivers",
            "signal",
            "OrderPlaced",
            "quickstart::reserve_stock",
            "examples/quickstart.rs:",
            "PostSave",
            "User",
            "quickstart::create_profile",
        ],
    );
    assert_eq!(count(&out, "profile created for"), 1, "{out}");
    assert!(
        !out.contains("metrics: order #44"),
        "a dropped guard must disconnect:\n{out}"
    );
}

#[test]
fn user_profile() {
    let out = assert_prints(
        "user_profile",
        &[
            "PostSave<User> -> user_profile::create_user_profile",
            "profile created for ada@example.com (user 1)",
            "profile created for grace@example.com (user 2)",
            "user ada updated (created = false): profile left alone",
            "profile created for linus@example.com (user 3)",
            "[connected at runtime] new signup: linus",
            "refused: dispatch_uid `create_user_profile` is already used by user_profile::create_user_profile",
            "ada's Profile (user 1",
            "grace's Profile (user 2",
            "linus's Profile (user 3",
        ],
    );
    assert_eq!(count(&out, "'s Profile"), 3, "{out}");
}

#[test]
fn welcome_email() {
    let out = assert_prints(
        "welcome_email",
        &[
            "welcome email sent to ada@example.com",
            "outbox still holds 1 email(s)",
            "email changed from ada@example.com to ada@lovelace.dev: confirmation sent",
            "the write succeeded but a PostSave receiver failed",
            "welcome_email::send_welcome_email",
            "invalid email address \"not-an-address\"",
            "the row is still written (as in Django): true",
        ],
    );
    assert_eq!(count(&out, "welcome email sent to"), 1, "{out}");
}

#[test]
fn low_stock() {
    let out = assert_prints(
        "low_stock",
        &[
            "saved Pen (stock 10)",
            "saved Notebook (stock 3)",
            "Warning: Low stock for Notebook (3 left)",
            "Warning: Low stock for Pen (2 left)",
            "PreSave aborted the save (low_stock::validate_stock): stock of Eraser cannot be negative (-4)",
        ],
    );
    assert_eq!(count(&out, "Warning: Low stock"), 2, "{out}");
    assert!(
        !out.contains("saved Eraser"),
        "an aborted save must not write:\n{out}"
    );
}

#[test]
fn article_deletion_log() {
    let out = assert_prints(
        "article_deletion_log",
        &[
            "Article \"Hello, signals\" is about to be deleted",
            "Article \"Hello, signals\" deleted; 2 attachment(s) removed",
            "Article \"House rules\" is about to be deleted",
            "the write was aborted by a PreDelete receiver",
            "article_deletion_log::protect_pinned",
            "is pinned; unpin it first",
            "the write failed: article 1 does not exist",
            "articles left:    [\"House rules\"]",
            "attachments left: [(2, \"rules.pdf\")]",
        ],
    );
    assert_eq!(
        count(&out, "attachment(s) removed"),
        2,
        "one post_delete, logged once and listed once:\n{out}"
    );
}

#[test]
fn custom_signals() {
    let out = assert_prints(
        "custom_signals",
        &[
            "User ada logged in at 1744637958",
            "login counted for User(pk=1)",
            "-> 2 receiver(s) ran",
            "login counted for StaffMember(pk=7)",
            "-> 1 receiver(s) ran",
            "admin notified: order #1001 by ada@example.com, 2 item(s), 18.90 EUR",
            "confirmation sent to ada@example.com for order #1001",
            "-> 3 receiver(s) ran",
            "send failed at custom_signals::check_order: order #1002 has no items",
            "priority 100  custom_signals::check_order",
            "priority  10  custom_signals::notify_admin",
            "priority   0  custom_signals::send_order_confirmation",
        ],
    );
    assert_eq!(
        count(&out, "logged in at"),
        1,
        "the User-only receiver must skip StaffMember:\n{out}"
    );
    assert!(
        !out.contains("order #1002 by"),
        "check_order must stop the send:\n{out}"
    );
}

#[test]
fn send_vs_send_robust() {
    assert_prints(
        "send_vs_send_robust",
        &[
            "send() returned Err: receiver send_vs_send_robust::sync_to_crm",
            "failing receiver: send_vs_send_robust::sync_to_crm",
            "declared at:      examples/send_vs_send_robust.rs:",
            "its error:        CRM unavailable (HTTP 503)",
            "receivers that ran: [\"create_profile\", \"sync_to_crm\"]",
            "a receiver panicked: SMTP relay for \"example.com\" not configured",
            "receivers that ran: [\"create_profile\", \"sync_to_crm\", \"send_welcome_email\", \"track_signup\"]",
            "all ok? false",
            "responses (2):",
            "send_vs_send_robust::create_profile",
            "send_vs_send_robust::track_signup",
            "failures (2):",
            "error   send_vs_send_robust::sync_to_crm",
            "(position 1)",
            "panic   send_vs_send_robust::send_welcome_email",
            "(position 2)",
            "0. (send_vs_send_robust::create_profile, Ok(",
            "1. (send_vs_send_robust::sync_to_crm, Err(CRM unavailable",
            "2. (send_vs_send_robust::send_welcome_email, Err(panicked:",
            "3. (send_vs_send_robust::track_signup, Ok(",
        ],
    );
}

#[test]
fn cache_invalidation() {
    assert_prints(
        "cache_invalidation",
        &[
            "[PostSave] search index updated for \"Signals in Rust\"",
            "cache miss, rendered and cached",
            "cache hit",
            "[PostSave] cache invalidated for Article 1: [\"article:1\", \"article:list\"]",
            "page: <h1>Signals in Rust, revisited</h1>",
            "search \"revisited\": [1]",
            "[PostDelete] cache invalidated for Article 1: [\"article:1\"]",
            "[PostDelete] article 1 removed from the search index",
            "page: <h1>404</h1>",
            "search \"signals\": []",
        ],
    );
}

#[test]
fn article_publish() {
    let out = assert_prints(
        "article_publish",
        &[
            "PostSave<Article> receiver: article_publish::on_article_publish",
            "saved article 1",
            "saved article 1",
            "cache cleared for article 1",
            "subscribers notified: \"Signals, considered\" is published",
            "PostSave<Article> receivers: none",
            "saved article 2",
            "saved article 2",
            "cache cleared for article 2",
            "subscribers notified: \"Explicit is better\" is published",
            "published_at = Some(",
        ],
    );
    assert_eq!(
        count(&out, "subscribers notified"),
        2,
        "each article is announced once:\n{out}"
    );
}

#[test]
fn audit_log() {
    assert_prints(
        "audit_log",
        &[
            "audit: User(pk=1) <ada@example.com> created on db \"default\"",
            "audit: Product(pk=10) created",
            "audit: Article(pk=100) created",
            "audit: Product(pk=10) updated fields [\"stock\"]",
            "audit: Article(pk=100) deleted",
            "5. Article(pk=100) deleted",
            "stock: 7",
        ],
    );
}

#[test]
fn auth_signals() {
    let out = assert_prints(
        "auth_signals",
        &[
            "ada logged in from 198.51.100.4",
            "[user_logged_in] last_login of ada set to",
            "[user_logged_out] session of ada (user 1) closed",
            "[user_login_failed] from 203.0.113.7: username=ada password=********************",
            "3 failures from 203.0.113.7: account ada locked",
            "login refused for \"ada\" from 198.51.100.4",
            "auth_signals::lock_after_failures",
            "no such user \"mallory\"",
            "locked = true",
        ],
    );
    for secret in ["hunter2", "password1", "letmein", "hunter3"] {
        assert!(
            !out.contains(secret),
            "a password leaked into the output ({secret}):\n{out}"
        );
    }
}

#[test]
fn m2m_changed() {
    assert_prints(
        "m2m_changed",
        &[
            "[PostAdd] [\"rust\", \"signals\"] on Article(pk=1)",
            "[PostAdd] [\"django\", \"signals\", \"orm\"] on Article(pk=2)",
            "(\"signals\", 2)",
            "[PostRemove] [\"orm\"] on Article(pk=2)",
            "refused: \"Django internals\" would have 4 tags (at most 3)",
            "[PreClear] [\"rust\", \"signals\"] on Article(pk=1)",
            "tags of \"Signals in Rust\": []",
            "tags of \"Django internals\": [\"django\", \"signals\"]",
            "articles per tag: [(\"django\", 1), (\"signals\", 1)]",
        ],
    );
}

#[test]
fn denormalized_counters() {
    assert_prints(
        "denormalized_counters",
        &[
            "comment_count -> 1",
            "comment_count -> 2",
            "comment_count = 2, last_comment_at = Some(200)",
            "comment 11 edited: counters unchanged",
            "comment_count = 2, last_comment_at = Some(200)",
            "comment_count = 1, last_comment_at = Some(100)",
            "comment 12 points at missing article 99",
            "comment_count = 1, last_comment_at = Some(100)",
        ],
    );
}

#[test]
fn request_signals() {
    assert_prints(
        "request_signals",
        &[
            "[request_started] GET /articles/1 (1 in flight)",
            "[request_finished] 198.51.100.4 GET /articles/1 200 (0 in flight)",
            "[got_request_exception] GET /articles/2: article 2 not found",
            "GET /articles/2 404",
            "[got_request_exception] POST /articles: database unavailable: connection reset by peer",
            "POST /articles 500 (0 in flight)",
            "access log:",
        ],
    );
}

#[test]
fn migrate_signals() {
    let out = assert_prints(
        "migrate_signals",
        &[
            "migrate_signals::require_maintenance_mode",
            "not in maintenance mode; refusing to migrate auth",
            "[pre_migrate] auth: 2 migration(s) to apply",
            "applying auth.0001_initial ... OK",
            "[post_migrate] auth: 2 migration(s) ran; default groups created: [\"editors\", \"moderators\"]",
            "[post_migrate] blog: 1 migration(s) ran",
            "[post_migrate] auth: 0 migration(s) ran; default groups created: []",
            "groups:  {\"editors\", \"moderators\"}",
        ],
    );
    assert_eq!(count(&out, "applying auth.0001_initial"), 1, "{out}");
}

#[test]
fn async_welcome_email() {
    let stdout = assert_prints(
        "async_welcome_email",
        &[
            "== concurrent (declared with #[signal(concurrent)]) ==",
            "log: ada@example.com signed up (sync receiver, runs first)",
            "email: connecting to the mail server for ada@example.com",
            "crm: pushing ada@example.com to the CRM",
            "crm: done",
            "email: welcome email sent to ada@example.com",
            "== sequential (per-send override) ==",
            "email: welcome email sent to grace@example.com",
            "crm: pushing grace@example.com to the CRM",
            "== sync send on a signal with async receivers ==",
            "refused, nothing ran: UserSignedUp has async receivers",
        ],
    );
    // Overlap: the CRM sync started before the email finished in the concurrent send.
    let crm_start = stdout.find("crm: pushing ada").unwrap();
    let email_done = stdout.find("welcome email sent to ada").unwrap();
    assert!(crm_start < email_done, "{stdout}");
}

#[test]
fn receiver_map() {
    let stdout = assert_prints(
        "receiver_map",
        &[
            "| signal",
            "| OrderPlaced",
            "flowchart LR",
            "digraph receivers {",
        ],
    );
    assert!(
        stdout.contains("receiver_map::send_welcome_email"),
        "{stdout}"
    );
}

/// The README's main command is the shop.
#[test]
fn readme_main_command_is_the_shop() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let first = readme
        .lines()
        .skip_while(|l| !l.starts_with("```sh"))
        .nth(1)
        .unwrap_or_default();
    assert!(first.starts_with("cargo run --example shop "), "{first}");
}

/// The README shows the Mermaid map printed by the `receiver_map` example: keep it current.
#[test]
fn readme_shows_the_current_receiver_map() {
    let output = example("receiver_map")
        .args(["--format", "mermaid"])
        .output()
        .expect("the example runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mermaid = String::from_utf8(output.stdout).unwrap();
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(
        readme.contains(mermaid.trim()),
        "README.md's receiver map is stale; replace its mermaid block with:\n{mermaid}"
    );
}

#[test]
fn atomic_profile() {
    let out = assert_prints(
        "atomic_profile",
        &[
            "profile created for ada@example.com (same transaction)",
            "committed: 1 user(s), 1 profile(s)",
            "profile created for ghost@example.com (same transaction)",
            "inside the transaction: 2 user(s), 2 profile(s)",
            "rolled back (Custom Error: card declined): 1 user(s), 1 profile(s)",
        ],
    );
    assert_eq!(count(&out, "profile created"), 2, "{out}");
}

/// The README's observability line, as written: `RUST_LOG=signals_core=debug` shows every
/// send and receiver span (with outcome), the robust send's failure with its cause, and the
/// deferred delivery at the commit.
#[test]
fn observability() {
    let out = run_example_with("observability", &[("RUST_LOG", "signals_core=debug")]);
    let mut rest = out.as_str();
    for line in [
        "== a send: one signal.send span",
        "signal.receiver{receiver=\"observability::reserve_stock\"",
        "outcome=\"ok\"",
        "signal.send{signal=\"OrderPlaced\" sender=\"-\" mode=\"sync\" receivers=3}",
        "outcome=\"error\"",
        "receiver failed in a robust send",
        "error=the CRM is down (HTTP 503)",
        "failures: 1",
        "queued=1",
        "signal.delivery{signal=\"OrderPlaced\" receiver=\"observability::send_receipt\"",
        "phase=\"commit\"",
        "commit: 0 failed deliveries",
    ] {
        let at = rest
            .find(line)
            .unwrap_or_else(|| panic!("expected {line:?} (in this order):\n{out}"));
        rest = &rest[at + line.len()..];
    }
    assert!(
        !out.contains('\u{1b}'),
        "no colour codes when not a terminal:\n{out}"
    );
    // With only errors enabled, the failure is all that is printed.
    let quiet = run_example_with("observability", &[("RUST_LOG", "signals_core=error")]);
    assert!(
        quiet.contains("receiver failed in a robust send"),
        "{quiet}"
    );
    assert!(!quiet.contains("signal.receiver{"), "{quiet}");
}
