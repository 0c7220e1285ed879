//! The `dead_letters` example, run as its own process on a broker file whose dead letters
//! a worker of this test wrote.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use signals_offload::{Broker, DeliveryId, Envelope, Job, Offload, Shutdown, SqliteBroker};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Ping(u32);

/// The example's binary, built once with the workspace's features (a no-op after
/// `cargo test --workspace`, which builds every example; `cargo run -p signals-offload`
/// would rebuild half the dependency tree with this package's features alone).
fn example_binary() -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let output = Command::new(env!("CARGO"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "build",
                "--quiet",
                "--workspace",
                "--example",
                "dead_letters",
            ])
            .output()
            .expect("cargo runs");
        assert!(
            output.status.success(),
            "building the dead_letters example failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    });
    // Cargo puts examples in `examples/` beside the `deps/` directory of this test binary
    // (whatever the target directory and target triple).
    let deps = std::env::current_exe().expect("the test binary's path");
    deps.parent()
        .and_then(|deps| deps.parent())
        .expect("the test binary is in <target>/<profile>/deps")
        .join("examples")
        .join(format!("dead_letters{}", std::env::consts::EXE_SUFFIX))
}

/// Runs the example with `args`; fails the test if it does not exit within 60 s.
fn dead_letters(args: &[&str]) -> Output {
    let mut child = Command::new(example_binary())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the example runs");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("dead_letters {args:?} did not exit within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_lists_and_requeues_dead_letters() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("broker.db");
    let mut offload = Offload::new();
    offload
        .register_with::<Ping, _, _, _>("mail", "send", 1, |_: Job<Ping>| async {
            Err::<(), _>("smtp down")
        })
        .expect("registered");
    let offload = Arc::new(offload);
    let broker = SqliteBroker::open(&path)
        .await
        .expect("broker")
        .with_poll_interval(Duration::from_millis(25));
    let envelope = |id: i64, handler: &str| Envelope {
        delivery_id: DeliveryId(id),
        queue: "mail".into(),
        handler: handler.into(),
        max_attempts: 1,
        payload: serde_json::json!(id),
    };
    broker.push(&envelope(11, "send")).await.expect("push");
    broker.push(&envelope(12, "gone")).await.expect("push");
    let shutdown = Shutdown::new();
    let worker = tokio::spawn(broker.run_worker("w1".into(), offload.clone(), shutdown.signal()));
    let deadline = Instant::now() + Duration::from_secs(20);
    while broker.dead_letters().await.expect("list").len() < 2 {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for the dead letters"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The worker stops first: the CLI's requeue must stay queued for the check below.
    shutdown.request();
    tokio::time::timeout(Duration::from_secs(20), worker)
        .await
        .expect("stopped in time")
        .expect("joined")
        .expect("worker stopped cleanly");
    let db = path.to_str().expect("utf-8 path");

    let listed = tokio::task::spawn_blocking({
        let db = db.to_owned();
        move || dead_letters(&[&db, "list"])
    })
    .await
    .expect("joined");
    assert!(listed.status.success(), "{listed:?}");
    let text = stdout(&listed);
    for expected in [
        "delivery 11  mail/send  1/1 attempts  exhausted  requeued 0 times",
        "    last error: handler failed: smtp down",
        "    payload: 11",
        "delivery 12  mail/gone  1/1 attempts  permanent",
        "    last error: unknown receiver `mail/gone`",
        "2 dead letter(s)",
    ] {
        assert!(text.contains(expected), "expected {expected:?} in:\n{text}");
    }

    let requeued = tokio::task::spawn_blocking({
        let db = db.to_owned();
        move || dead_letters(&[&db, "requeue", "11", "99"])
    })
    .await
    .expect("joined");
    assert_eq!(requeued.status.code(), Some(1), "{requeued:?}");
    let text = stdout(&requeued);
    assert!(text.contains("requeued delivery 11"), "{text}");
    assert!(text.contains("no dead letter for delivery 99"), "{text}");
    // Requeued through the CLI: gone from the dead letters, queued again: a worker runs it
    // (still failing, so it is dead again, in its second round).
    let left = broker.dead_letters().await.expect("list");
    assert_eq!(
        left.iter()
            .map(|l| l.envelope.delivery_id)
            .collect::<Vec<_>>(),
        vec![DeliveryId(12)]
    );
    let shutdown = Shutdown::new();
    let worker = tokio::spawn(broker.run_worker("w2".into(), offload, shutdown.signal()));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let letters = broker.dead_letters().await.expect("list");
        if let Some(again) = letters
            .iter()
            .find(|l| l.envelope.delivery_id == DeliveryId(11))
        {
            assert_eq!((again.requeues, again.attempts), (1, 1), "{again:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for the requeued job"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.request();
    tokio::time::timeout(Duration::from_secs(20), worker)
        .await
        .expect("stopped in time")
        .expect("joined")
        .expect("worker stopped cleanly");

    let nope = dir.path().join("nope.db");
    let missing = tokio::task::spawn_blocking({
        let nope = nope.to_str().expect("utf-8 path").to_owned();
        move || dead_letters(&[&nope])
    })
    .await
    .expect("joined");
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("no broker database at"),
        "{missing:?}"
    );
    assert!(!nope.exists(), "the CLI created a database");
}
