//! Reacting to many-to-many changes (`m2m_changed`): tags on articles.
//!
//! Shows Django's built-in `m2m_changed` signal ("when a many-to-many field changes") on
//! articles and their tags. `article.tags.add(...)`, `.remove(...)` and `.clear()` each
//! send a `pre_*` and a `post_*` action; receivers validate the change and keep a
//! denormalized "articles per tag" counter up to date.
//!
//! How it differs from Django:
//! * the sender is the through model *type* (`M2mChanged<'_, ArticleTags>`), checked at
//!   compile time; `action` is an enum (`M2mAction::PostAdd`), not a string to misspell;
//! * `pk_set` is `Option<&[i64]>`: `None` for clears, as in Django, but visible in the type;
//! * a `pre_add` receiver returning `Err` stops the change before anything is written
//!   (the tag helper below checks `send()`'s result; there is no ORM wrapper for m2m yet).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use signals_core::models::{M2mAction, M2mChanged, Model};
use signals_core::prelude::*;

const MAX_TAGS: usize = 3;

#[derive(Debug)]
pub struct Article {
    pub id: i64,
    pub title: String,
}

impl Model for Article {
    fn pk(&self) -> Option<i64> {
        Some(self.id)
    }
}

/// The through (junction) model of `Article.tags`: the sender of `m2m_changed`.
pub struct ArticleTags;
impl Model for ArticleTags {}

/// The junction table: article id -> tag ids.
static ARTICLE_TAGS: Mutex<BTreeMap<i64, BTreeSet<i64>>> = Mutex::new(BTreeMap::new());
/// Denormalized: tag id -> number of articles.
static TAG_USAGE: Mutex<BTreeMap<i64, u32>> = Mutex::new(BTreeMap::new());
static TAG_NAMES: [(i64, &str); 5] = [
    (1, "rust"),
    (2, "django"),
    (3, "signals"),
    (4, "web"),
    (5, "orm"),
];

fn tag_names(pks: &[i64]) -> Vec<&'static str> {
    pks.iter()
        .filter_map(|pk| TAG_NAMES.iter().find(|(id, _)| id == pk).map(|(_, n)| *n))
        .collect()
}

// --- the relation manager: article.tags.add / remove / clear ---------------------------

fn change(
    article: &Article,
    pre: M2mAction,
    post: M2mAction,
    pks: Option<&[i64]>,
) -> Result<(), signals_core::SendError> {
    M2mChanged::<ArticleTags>::new(article, pre, "Tag", pks).send()?;
    {
        let mut table = ARTICLE_TAGS.lock().unwrap();
        let tags = table.entry(article.id).or_default();
        match (post, pks) {
            (M2mAction::PostAdd, Some(pks)) => tags.extend(pks),
            (M2mAction::PostRemove, Some(pks)) => pks.iter().for_each(|pk| {
                tags.remove(pk);
            }),
            _ => tags.clear(),
        }
    }
    M2mChanged::<ArticleTags>::new(article, post, "Tag", pks).send()?;
    Ok(())
}

fn current_tags(article: &Article) -> Vec<i64> {
    ARTICLE_TAGS
        .lock()
        .unwrap()
        .get(&article.id)
        .map(|t| t.iter().copied().collect())
        .unwrap_or_default()
}

fn add_tags(article: &Article, pks: &[i64]) -> Result<(), Box<dyn std::error::Error>> {
    println!("article.tags.add({:?})", tag_names(pks));
    // Like Django, only the ones not already there are "added".
    let existing = current_tags(article);
    let new: Vec<i64> = pks
        .iter()
        .copied()
        .filter(|pk| !existing.contains(pk))
        .collect();
    change(article, M2mAction::PreAdd, M2mAction::PostAdd, Some(&new))?;
    Ok(())
}

fn remove_tags(article: &Article, pks: &[i64]) -> Result<(), Box<dyn std::error::Error>> {
    println!("article.tags.remove({:?})", tag_names(pks));
    change(
        article,
        M2mAction::PreRemove,
        M2mAction::PostRemove,
        Some(pks),
    )?;
    Ok(())
}

fn clear_tags(article: &Article) -> Result<(), Box<dyn std::error::Error>> {
    println!("article.tags.clear()");
    // Django's post_clear has pk_set=None: count what goes away first, in pre_clear.
    change(article, M2mAction::PreClear, M2mAction::PostClear, None)?;
    Ok(())
}

// --- receivers -------------------------------------------------------------------------

#[derive(Debug, thiserror::Error)]
pub enum TagError {
    #[error("{title:?} would have {count} tags (at most {MAX_TAGS})")]
    TooMany { title: String, count: usize },
}

/// `pre_add`: refuse more than `MAX_TAGS` tags per article.
#[receiver(M2mChanged, sender = ArticleTags, priority = 10)]
fn limit_tags(event: &M2mChanged<'_, ArticleTags>) -> Result<(), TagError> {
    let (M2mAction::PreAdd, Some(added)) = (event.action, event.pk_set) else {
        return Ok(());
    };
    let article = event
        .instance
        .downcast_ref::<Article>()
        .expect("ArticleTags links articles");
    let count = current_tags(article).len() + added.len();
    if count > MAX_TAGS {
        return Err(TagError::TooMany {
            title: article.title.clone(),
            count,
        });
    }
    Ok(())
}

/// Keeps `TAG_USAGE` in step with the junction table.
#[receiver(M2mChanged, sender = ArticleTags)]
fn update_tag_usage(event: &M2mChanged<'_, ArticleTags>) {
    let mut usage = TAG_USAGE.lock().unwrap();
    let (pks, delta): (Vec<i64>, i32) = match (event.action, event.pk_set) {
        (M2mAction::PostAdd, Some(pks)) => (pks.to_vec(), 1),
        (M2mAction::PostRemove, Some(pks)) => (pks.to_vec(), -1),
        // pk_set is None for clears: read what is about to go before it goes.
        (M2mAction::PreClear, None) => {
            let article = event
                .instance
                .downcast_ref::<Article>()
                .expect("ArticleTags links articles");
            (current_tags(article), -1)
        }
        _ => return,
    };
    for pk in &pks {
        let n = usage.entry(*pk).or_default();
        *n = n.saturating_add_signed(delta);
    }
    usage.retain(|_, n| *n > 0);
    println!(
        "  [{:?}] {:?} on {:?}: tag usage now {:?}",
        event.action,
        tag_names(&pks),
        event.instance,
        usage
            .iter()
            .map(|(pk, n)| (tag_names(&[*pk])[0], *n))
            .collect::<Vec<_>>()
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let intro = Article {
        id: 1,
        title: "Signals in Rust".into(),
    };
    let deep = Article {
        id: 2,
        title: "Django internals".into(),
    };

    add_tags(&intro, &[1, 3])?;
    add_tags(&deep, &[2, 3, 5])?;
    remove_tags(&deep, &[5])?;

    println!();
    println!("-- two more tags would make four: the pre_add receiver refuses, nothing is written");
    if let Err(error) = add_tags(&deep, &[1, 4]) {
        let reason = error.source().map(ToString::to_string).unwrap_or_default();
        println!("  refused: {reason}");
    }

    println!();
    clear_tags(&intro)?;

    println!();
    println!(
        "tags of {:?}: {:?}",
        intro.title,
        tag_names(&current_tags(&intro))
    );
    println!(
        "tags of {:?}: {:?}",
        deep.title,
        tag_names(&current_tags(&deep))
    );
    let usage = TAG_USAGE.lock().unwrap();
    let usage: Vec<(&str, u32)> = usage
        .iter()
        .map(|(pk, n)| (tag_names(&[*pk])[0], *n))
        .collect();
    println!("articles per tag: {usage:?}");
    Ok(())
}
