//! Creating a profile automatically when a user signs up.
//!
//! Shows the best-known Django signal: a `post_save` receiver that creates a profile for
//! every new user:
//!
//! ```python
//! @receiver(post_save, sender=User)
//! def create_user_profile(sender, instance, created, **kwargs):
//!     if created:
//!         UserProfile.objects.create(user=instance)
//! ```
//!
//! plus a receiver connected at runtime (Django's `post_save.connect(...)`), and why a
//! receiver checks `created` (an update must not create a second profile).
//!
//! How it differs from Django:
//! * `created` is a typed field of `PostSave<'_, User>`, and `instance` is a `&User`:
//!   misspelling `created` or using another sender is a compile error, not a silent no-op;
//! * there is no `AppConfig.ready()` import to forget: `#[receiver]` registers at link
//!   time, and `PostSave::<User>::receivers()` shows at startup what is connected;
//! * the receiver can fail (`Result<(), ProfileError>`), and the error reaches the caller of
//!   `models::save` with the receiver's name instead of disappearing;
//! * connecting the same receiver twice under one `dispatch_uid` is an error naming the
//!   receiver that already holds it (Django silently ignores the second one).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Mutex;

use signals_core::ConnectOptions;
use signals_core::models::{self, Model, PostSave, Saved};
use signals_core::prelude::*;

#[derive(Clone, Debug)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
}

impl Model for User {
    fn pk(&self) -> Option<i64> {
        Some(self.id)
    }
}

#[derive(Clone, Debug)]
pub struct UserProfile {
    pub user_id: i64,
    pub bio: String,
}

static USERS: Mutex<BTreeMap<i64, User>> = Mutex::new(BTreeMap::new());
static PROFILES: Mutex<BTreeMap<i64, UserProfile>> = Mutex::new(BTreeMap::new());

/// The write that `models::save` wraps: an upsert into the in-memory table.
fn upsert_user(user: &User) -> Result<Saved<()>, Infallible> {
    let previous = USERS.lock().unwrap().insert(user.id, user.clone());
    Ok(if previous.is_none() {
        Saved::Created(())
    } else {
        Saved::Updated(())
    })
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("user {0} already has a profile")]
    AlreadyExists(i64),
}

/// `UserProfile.objects.create(user=instance)`, only for new users.
#[receiver(PostSave, sender = User, dispatch_uid = "create_user_profile")]
fn create_user_profile(event: &PostSave<'_, User>) -> Result<(), ProfileError> {
    let user = event.instance;
    if !event.created {
        println!(
            "  user {} updated (created = false): profile left alone",
            user.username
        );
        return Ok(());
    }
    let mut profiles = PROFILES.lock().unwrap();
    if profiles.contains_key(&user.id) {
        return Err(ProfileError::AlreadyExists(user.id));
    }
    profiles.insert(
        user.id,
        UserProfile {
            user_id: user.id,
            bio: String::new(),
        },
    );
    println!("  profile created for {} (user {})", user.email, user.id);
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("== startup: what Django's AppConfig.ready() import would register ==");
    for r in PostSave::<User>::receivers() {
        println!("  PostSave<User> -> {r}");
    }

    println!();
    println!("== User.objects.create(...) ==");
    let mut ada = User {
        id: 1,
        username: "ada".into(),
        email: "ada@example.com".into(),
    };
    models::save(&ada, upsert_user)?;
    models::save(
        &User {
            id: 2,
            username: "grace".into(),
            email: "grace@example.com".into(),
        },
        upsert_user,
    )?;

    println!();
    println!("== user.save() on an existing user: `if created` keeps it to one profile ==");
    ada.email = "ada@lovelace.dev".into();
    models::save(&ada, upsert_user)?;

    println!();
    println!("== post_save.connect(...): the runtime form of @receiver ==");
    // Django: post_save.connect(log_signup, sender=User). The guard disconnects on drop.
    let log_signup = PostSave::<User>::connect(|event: &PostSave<'_, User>| {
        if event.created {
            println!(
                "  [connected at runtime] new signup: {}",
                event.instance.username
            );
        }
    });
    models::save(
        &User {
            id: 3,
            username: "linus".into(),
            email: "linus@example.com".into(),
        },
        upsert_user,
    )?;
    drop(log_signup);

    println!();
    println!("== connecting create_user_profile a second time (Django's double import) ==");
    let options = ConnectOptions::new().dispatch_uid("create_user_profile");
    match PostSave::<User>::connect_with(options, create_user_profile) {
        Ok(connection) => {
            println!("  connected twice?! {}", connection.receiver());
        }
        Err(refused) => println!("  refused: {refused}"),
    }

    println!();
    println!("== profiles in the database ==");
    let users = USERS.lock().unwrap();
    for profile in PROFILES.lock().unwrap().values() {
        let user = &users[&profile.user_id];
        println!(
            "  {}'s Profile (user {}, bio {:?})",
            user.username, profile.user_id, profile.bio
        );
    }
    Ok(())
}
