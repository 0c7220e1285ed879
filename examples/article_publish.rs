//! Publishing an article: the signal version, and the explicit service function.
//!
//! Shows when not to use a signal: a well-known Django anti-pattern is a `post_save`
//! receiver inside the blog app itself, which hides the steps of publishing an article:
//!
//! ```python
//! @receiver(post_save, sender=Article)
//! def on_article_publish(sender, instance, **kwargs):
//!     if instance.is_published:
//!         clear_article_cache(instance)
//!         send_publication_notification(instance)
//! ```
//!
//! and the usual recommendation is a service function, `publish_article(article)`, that
//! does every step in order where the reader can see it. Both are shown; the signal
//! version is connected at runtime so that it can be switched off before the service
//! version runs.
//!
//! How it differs from Django:
//! * the "invisibility" of receivers has a cure: `PostSave::<Article>::receivers()`
//!   lists, in order and with `file:line`, everything that runs when an `Article` is saved;
//! * the runtime receiver is held by a `Connection` guard: dropping it disconnects it, so
//!   it cannot outlive the code that wanted it.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Mutex;

use signals_core::models::{self, Model, PostSave, Saved};
use signals_core::prelude::*;

#[derive(Clone, Debug)]
pub struct Article {
    pub id: i64,
    pub title: String,
    pub is_published: bool,
    pub published_at: Option<u64>,
}

impl Model for Article {
    fn pk(&self) -> Option<i64> {
        Some(self.id)
    }
}

static ARTICLES: Mutex<BTreeMap<i64, Article>> = Mutex::new(BTreeMap::new());
static NOW: u64 = 1_757_000_000;

/// The write that `models::save` wraps: an upsert into the in-memory table.
fn upsert_article(a: &Article) -> Result<Saved<()>, Infallible> {
    let previous = ARTICLES.lock().unwrap().insert(a.id, a.clone());
    println!("  saved article {} ({:?})", a.id, a.title);
    Ok(if previous.is_none() {
        Saved::Created(())
    } else {
        Saved::Updated(())
    })
}

fn clear_article_cache(article: &Article) {
    println!("  cache cleared for article {}", article.id);
}

fn send_publication_notification(article: &Article) {
    println!("  subscribers notified: {:?} is published", article.title);
}

/// The signal version: Django's `on_article_publish` above (connected at runtime in `main`).
fn on_article_publish(event: &PostSave<'_, Article>) {
    if event.instance.is_published {
        clear_article_cache(event.instance);
        send_publication_notification(event.instance);
    }
}

/// The service version: every step, in order, in one place.
fn publish_article(article: &mut Article) -> Result<(), Box<dyn std::error::Error>> {
    article.is_published = true;
    article.published_at = Some(NOW);
    models::save(article, upsert_article)?;
    clear_article_cache(article);
    send_publication_notification(article);
    Ok(())
}

fn list_post_save_receivers() {
    let receivers = PostSave::<Article>::receivers();
    if receivers.is_empty() {
        println!("  PostSave<Article> receivers: none");
    }
    for r in receivers {
        println!("  PostSave<Article> receiver: {r}");
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("== 1. with a signal: the save has a hidden side effect ==");
    let connection = PostSave::<Article>::connect(on_article_publish);
    println!("  what runs on save? ask the registry:");
    list_post_save_receivers();
    let mut draft = Article {
        id: 1,
        title: "Signals, considered".into(),
        is_published: false,
        published_at: None,
    };
    println!("  -- save the draft (is_published = false): nothing else happens");
    models::save(&draft, upsert_article)?;
    println!("  -- set is_published and save: the receiver clears the cache and notifies");
    draft.is_published = true;
    models::save(&draft, upsert_article)?;
    drop(connection);

    println!();
    println!("== 2. with a service function: publish_article(article) ==");
    list_post_save_receivers();
    let mut second = Article {
        id: 2,
        title: "Explicit is better".into(),
        is_published: false,
        published_at: None,
    };
    println!("  -- save the draft");
    models::save(&second, upsert_article)?;
    println!("  -- publish_article(): save, clear the cache, notify, visibly in that order");
    publish_article(&mut second)?;
    println!(
        "  published_at = {:?}",
        ARTICLES.lock().unwrap()[&2].published_at
    );
    Ok(())
}
