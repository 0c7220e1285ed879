//! Authentication signals: `user_logged_in`, `user_logged_out`, `user_login_failed`.
//!
//! Shows Django's built-in authentication signals: sent when a user logs in, logs out or
//! fails to log in. A small `login`/`logout` view sends them, and receivers record the last
//! login, count failures per client address and lock the account after three failures.
//!
//! How it differs from Django:
//! * `UserLoggedIn<'_, User>` is sent by the user *type* (Django's `sender=user.__class__`),
//!   so `#[receiver(UserLoggedIn, sender = User)]` gets a `&User`, not an untyped `user`;
//! * `UserLoginFailed` carries `Credentials` whose sensitive values (any key containing
//!   `PASS`, `TOKEN`, `KEY`, `SECRET`, ...) are masked when they are built: no receiver can
//!   log a password by mistake;
//! * the request is an optional, typed `RequestMeta` (method, path, client address).

use std::collections::BTreeMap;
use std::sync::Mutex;

use signals_core::auth::{Credentials, UserLoggedIn, UserLoggedOut, UserLoginFailed};
use signals_core::models::Model;
use signals_core::prelude::*;
use signals_core::request::RequestMeta;

#[derive(Clone, Debug)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub password: String,
    pub last_login: Option<u64>,
    pub locked: bool,
}

impl Model for User {
    fn pk(&self) -> Option<i64> {
        Some(self.id)
    }
}

static USERS: Mutex<BTreeMap<String, User>> = Mutex::new(BTreeMap::new());
/// Failed attempts per client address.
static FAILURES: Mutex<BTreeMap<String, u32>> = Mutex::new(BTreeMap::new());
static CLOCK: Mutex<u64> = Mutex::new(1_757_000_000);
const MAX_FAILURES: u32 = 3;

fn tick() -> u64 {
    let mut now = CLOCK.lock().unwrap();
    *now += 60;
    *now
}

// --- the views that send the signals --------------------------------------------------

fn login(username: &str, password: &str, client: &str) -> Result<(), Box<dyn std::error::Error>> {
    let request = RequestMeta::new("POST", "/accounts/login").remote_addr(client);
    let user = USERS.lock().unwrap().get(username).cloned();
    match user {
        Some(user) if user.password == password && !user.locked => {
            println!("  {username} logged in from {client}");
            UserLoggedIn::new(&user, Some(request)).send()?;
        }
        _ => {
            println!("  login refused for {username:?} from {client}");
            let credentials = Credentials::new([("username", username), ("password", password)]);
            UserLoginFailed::new(&credentials).request(request).send()?;
        }
    }
    Ok(())
}

fn logout(username: &str) -> Result<(), Box<dyn std::error::Error>> {
    let user = USERS.lock().unwrap().get(username).cloned();
    if let Some(user) = user {
        UserLoggedOut::new(&user, Some(RequestMeta::new("POST", "/accounts/logout"))).send()?;
        println!("  {username} logged out");
    }
    Ok(())
}

// --- receivers -------------------------------------------------------------------------

/// What Django's `update_last_login` does.
#[receiver(UserLoggedIn, sender = User)]
fn update_last_login(event: &UserLoggedIn<'_, User>) {
    let now = tick();
    if let Some(user) = USERS.lock().unwrap().get_mut(&event.user.username) {
        user.last_login = Some(now);
    }
    println!(
        "    [user_logged_in] last_login of {} set to {now}",
        event.user.username
    );
}

#[receiver(UserLoggedIn, sender = User)]
fn reset_failure_count(event: &UserLoggedIn<'_, User>) {
    if let Some(addr) = event.request.and_then(|r| r.remote_addr) {
        FAILURES.lock().unwrap().remove(addr);
    }
}

#[receiver(UserLoggedOut, sender = User)]
fn end_session(event: &UserLoggedOut<'_, User>) {
    println!(
        "    [user_logged_out] session of {} (user {}) closed",
        event.user.username, event.user.id
    );
}

/// Logs the attempt; the password is already masked in `credentials`.
#[receiver(UserLoginFailed, priority = 10)]
fn log_failed_login(event: &UserLoginFailed<'_>) {
    let pairs: Vec<String> = event
        .credentials
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let client = event.request.and_then(|r| r.remote_addr).unwrap_or("?");
    println!("    [user_login_failed] from {client}: {}", pairs.join(" "));
}

#[derive(Debug, thiserror::Error)]
pub enum LockoutError {
    #[error("no such user {0:?}")]
    UnknownUser(String),
}

/// Locks the account after too many failures from one address.
#[receiver(UserLoginFailed)]
fn lock_after_failures(event: &UserLoginFailed<'_>) -> Result<(), LockoutError> {
    let client = event
        .request
        .and_then(|r| r.remote_addr)
        .unwrap_or("?")
        .to_owned();
    let mut failures = FAILURES.lock().unwrap();
    let count = failures.entry(client.clone()).or_default();
    *count += 1;
    if *count < MAX_FAILURES {
        return Ok(());
    }
    let username = event.credentials.get("username").unwrap_or_default();
    let mut users = USERS.lock().unwrap();
    let user = users
        .get_mut(username)
        .ok_or_else(|| LockoutError::UnknownUser(username.to_owned()))?;
    user.locked = true;
    println!("    [user_login_failed] {count} failures from {client}: account {username} locked");
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ada = User {
        id: 1,
        username: "ada".into(),
        password: "hunter2".into(),
        last_login: None,
        locked: false,
    };
    USERS.lock().unwrap().insert(ada.username.clone(), ada);

    println!("== a successful login, then logout ==");
    login("ada", "hunter2", "198.51.100.4")?;
    logout("ada")?;

    println!();
    println!("== three wrong passwords from one address ==");
    for guess in ["password1", "letmein", "hunter3"] {
        login("ada", guess, "203.0.113.7")?;
    }

    println!();
    println!("== the right password, too late: the account is locked ==");
    login("ada", "hunter2", "198.51.100.4")?;

    println!();
    println!("== a failed login for an unknown user: the lockout receiver's error is returned ==");
    FAILURES
        .lock()
        .unwrap()
        .insert("192.0.2.1".into(), MAX_FAILURES - 1);
    if let Err(error) = login("mallory", "x", "192.0.2.1") {
        let source = error.source().map(ToString::to_string).unwrap_or_default();
        println!("  login() returned an error: {error}: {source}");
    }

    println!();
    let users = USERS.lock().unwrap();
    let ada = &users["ada"];
    println!(
        "ada: last_login = {:?}, locked = {}",
        ada.last_login, ada.locked
    );
    Ok(())
}
