//! Logging article deletions (`pre_delete`) and cleaning up after them (`post_delete`).
//!
//! Shows, with typed payloads, a Django `pre_delete` receiver that logs a deletion:
//!
//! ```python
//! @receiver(pre_delete, sender=Article)
//! def log_article_deletion(sender, instance, **kwargs):
//!     print(f"Article {instance.title} is about to be deleted")
//! ```
//!
//! and the classic "clean up when an object is deleted" use: a `post_delete` receiver
//! removes the article's attachments.
//!
//! How it differs from Django:
//! * a `pre_delete` receiver returning `Err` vetoes the delete: `models::delete` returns
//!   `ModelError::Aborted` naming the receiver, and the row is not removed;
//! * `post_delete` gets the deleted `&Article` with its primary key still set, typed.

use std::collections::BTreeMap;
use std::sync::Mutex;

use signals_core::models::{self, Model, ModelError, PostDelete, PreDelete};
use signals_core::prelude::*;

#[derive(Clone, Debug)]
pub struct Article {
    pub id: i64,
    pub title: String,
    pub pinned: bool,
}

impl Model for Article {
    fn pk(&self) -> Option<i64> {
        Some(self.id)
    }
}

static ARTICLES: Mutex<BTreeMap<i64, Article>> = Mutex::new(BTreeMap::new());
/// Attachment files: (article id, file name).
static ATTACHMENTS: Mutex<Vec<(i64, &str)>> = Mutex::new(Vec::new());
static DELETION_LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    #[error("article {0:?} is pinned; unpin it first")]
    Pinned(String),
    #[error("article {0} does not exist")]
    NotFound(i64),
}

/// The write that `models::delete` wraps (`article.delete()`).
fn remove_article(article: &Article) -> Result<(), DeleteError> {
    match ARTICLES.lock().unwrap().remove(&article.id) {
        Some(_) => Ok(()),
        None => Err(DeleteError::NotFound(article.id)),
    }
}

/// Django's `log_article_deletion` above. Priority 10: log the attempt before anything can
/// veto it.
#[receiver(PreDelete, sender = Article, priority = 10)]
fn log_article_deletion(event: &PreDelete<'_, Article>) {
    let message = format!("Article {:?} is about to be deleted", event.instance.title);
    println!("  {message}");
    DELETION_LOG.lock().unwrap().push(message);
}

#[receiver(PreDelete, sender = Article)]
fn protect_pinned(event: &PreDelete<'_, Article>) -> Result<(), DeleteError> {
    if event.instance.pinned {
        return Err(DeleteError::Pinned(event.instance.title.clone()));
    }
    Ok(())
}

#[receiver(PostDelete, sender = Article)]
fn remove_attachments(event: &PostDelete<'_, Article>) {
    let id = event.instance.id;
    let mut files = ATTACHMENTS.lock().unwrap();
    let before = files.len();
    files.retain(|(article, _)| *article != id);
    let message = format!(
        "Article {:?} deleted; {} attachment(s) removed",
        event.instance.title,
        before - files.len()
    );
    println!("  {message}");
    DELETION_LOG.lock().unwrap().push(message);
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let hello = Article {
        id: 1,
        title: "Hello, signals".into(),
        pinned: false,
    };
    let rules = Article {
        id: 2,
        title: "House rules".into(),
        pinned: true,
    };
    for a in [&hello, &rules] {
        ARTICLES.lock().unwrap().insert(a.id, a.clone());
    }
    ATTACHMENTS
        .lock()
        .unwrap()
        .extend([(1, "cover.png"), (1, "diagram.svg"), (2, "rules.pdf")]);

    println!("== article.delete() ==");
    models::delete(&hello, remove_article)?;

    println!();
    println!("== deleting a pinned article: vetoed by a pre_delete receiver ==");
    match models::delete(&rules, remove_article) {
        Ok(()) => println!("  deleted (unexpected)"),
        Err(error @ ModelError::Aborted { .. }) => {
            let cause = std::error::Error::source(&error).expect("a send error");
            println!(
                "  {error}: {cause}: {}",
                std::error::Error::source(cause).expect("the receiver's error")
            );
        }
        Err(other) => return Err(other.into()),
    }

    println!();
    println!("== deleting an article that is already gone: the write fails, no post_delete ==");
    if let Err(error @ ModelError::Write(_)) = models::delete(&hello, remove_article) {
        println!(
            "  {error}: {}",
            std::error::Error::source(&error).expect("the write error")
        );
    }

    println!();
    println!("== state ==");
    let articles: Vec<String> = ARTICLES
        .lock()
        .unwrap()
        .values()
        .map(|a| a.title.clone())
        .collect();
    println!("  articles left:    {articles:?}");
    println!("  attachments left: {:?}", ATTACHMENTS.lock().unwrap());
    println!("  deletion log:");
    for line in DELETION_LOG.lock().unwrap().iter() {
        println!("    {line}");
    }
    Ok(())
}
