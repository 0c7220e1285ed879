//! Updating counters and denormalized fields when related rows change.
//!
//! Shows the classic "update counters or denormalized fields when related data changes"
//! use: `Article.comment_count` and `Article.last_comment_at` follow the `Comment` rows
//! through `post_save` and `post_delete` receivers.
//!
//! How it differs from Django:
//! * the receivers get a typed `&Comment` (`event.instance.article_id`), and
//!   `event.created` tells inserts from updates, so edits do not double count;
//! * an inconsistency (a comment on a missing article) is a typed error returned to the
//!   caller of `models::save`, not a silently skipped `try/except`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Mutex;

use signals_core::models::{self, Model, PostDelete, PostSave, Saved};
use signals_core::prelude::*;

#[derive(Clone, Debug)]
pub struct Article {
    pub id: i64,
    pub title: String,
    /// Denormalized: number of comments.
    pub comment_count: u32,
    /// Denormalized: time of the latest comment.
    pub last_comment_at: Option<u64>,
}

impl Model for Article {
    fn pk(&self) -> Option<i64> {
        Some(self.id)
    }
}

#[derive(Clone, Debug)]
pub struct Comment {
    pub id: i64,
    pub article_id: i64,
    pub text: String,
    pub at: u64,
}

impl Model for Comment {
    fn pk(&self) -> Option<i64> {
        Some(self.id)
    }
}

static ARTICLES: Mutex<BTreeMap<i64, Article>> = Mutex::new(BTreeMap::new());
static COMMENTS: Mutex<BTreeMap<i64, Comment>> = Mutex::new(BTreeMap::new());

/// The writes that `models::save` and `models::delete` wrap.
fn upsert_comment(c: &Comment) -> Result<Saved<()>, Infallible> {
    let previous = COMMENTS.lock().unwrap().insert(c.id, c.clone());
    Ok(if previous.is_none() {
        Saved::Created(())
    } else {
        Saved::Updated(())
    })
}

fn remove_comment(c: &Comment) -> Result<(), Infallible> {
    COMMENTS.lock().unwrap().remove(&c.id);
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum CounterError {
    #[error("comment {comment} points at missing article {article}")]
    MissingArticle { comment: i64, article: i64 },
}

#[receiver(PostSave, sender = Comment)]
fn count_new_comment(event: &PostSave<'_, Comment>) -> Result<(), CounterError> {
    let comment = event.instance;
    if !event.created {
        println!("  comment {} edited: counters unchanged", comment.id);
        return Ok(());
    }
    let mut articles = ARTICLES.lock().unwrap();
    let article = articles
        .get_mut(&comment.article_id)
        .ok_or(CounterError::MissingArticle {
            comment: comment.id,
            article: comment.article_id,
        })?;
    article.comment_count += 1;
    article.last_comment_at = article.last_comment_at.max(Some(comment.at));
    println!(
        "  {:?}: comment_count -> {}",
        article.title, article.comment_count
    );
    Ok(())
}

#[receiver(PostDelete, sender = Comment)]
fn uncount_deleted_comment(event: &PostDelete<'_, Comment>) {
    let comment = event.instance;
    // Recompute from the remaining rows: deletes may remove the latest comment.
    let remaining: Vec<u64> = COMMENTS
        .lock()
        .unwrap()
        .values()
        .filter(|c| c.article_id == comment.article_id)
        .map(|c| c.at)
        .collect();
    if let Some(article) = ARTICLES.lock().unwrap().get_mut(&comment.article_id) {
        article.comment_count = remaining.len() as u32;
        article.last_comment_at = remaining.into_iter().max();
        println!(
            "  {:?}: comment_count -> {}",
            article.title, article.comment_count
        );
    }
}

fn show(id: i64) {
    let articles = ARTICLES.lock().unwrap();
    let a = &articles[&id];
    println!(
        "  => {:?}: comment_count = {}, last_comment_at = {:?}",
        a.title, a.comment_count, a.last_comment_at
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let article = Article {
        id: 1,
        title: "Signals in Rust".into(),
        comment_count: 0,
        last_comment_at: None,
    };
    ARTICLES.lock().unwrap().insert(article.id, article);

    println!("== two comments are posted ==");
    let first = Comment {
        id: 10,
        article_id: 1,
        text: "Nice!".into(),
        at: 100,
    };
    let mut second = Comment {
        id: 11,
        article_id: 1,
        text: "Typo in §2".into(),
        at: 200,
    };
    models::save(&first, upsert_comment)?;
    models::save(&second, upsert_comment)?;
    show(1);

    println!();
    println!("== a comment is edited (created = false) ==");
    second.text = "Typo in §2 (fixed now, thanks)".into();
    models::save(&second, upsert_comment)?;
    show(1);

    println!();
    println!("== the latest comment is deleted ==");
    models::delete(&second, remove_comment)?;
    show(1);

    println!();
    println!("== a comment on an article that does not exist ==");
    let orphan = Comment {
        id: 12,
        article_id: 99,
        text: "?".into(),
        at: 300,
    };
    if let Err(error) = models::save(&orphan, upsert_comment) {
        let cause = std::error::Error::source(&error).and_then(std::error::Error::source);
        println!(
            "  save failed: {error}: {}",
            cause.map(ToString::to_string).unwrap_or_default()
        );
    }
    show(1);
    let texts: Vec<String> = COMMENTS
        .lock()
        .unwrap()
        .values()
        .map(|c| c.text.clone())
        .collect();
    println!("  comments stored: {texts:?} (post_save runs after the write, as in Django)");
    Ok(())
}
