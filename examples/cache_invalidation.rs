//! Clearing a cache and updating a search index when a blog post is saved or deleted.
//!
//! Shows the classic "when a blog post is saved or deleted, clear its cache and update the
//! search index" use. In Django that is usually one receiver connected twice
//! (`@receiver([post_save, post_delete], sender=Article)`).
//!
//! How it differs from Django:
//! * one function receives two signals: `#[receiver(PostSave, PostDelete, sender = Article)]`
//!   with a `&dyn ModelEvent` parameter, a trait both payloads implement; the compiler
//!   checks that both signals can be viewed that way;
//! * `event.instance()` is a `&dyn Model` with `pk()` and `model_name()`, no `**kwargs`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Mutex;

use signals_core::models::{self, Model, ModelEvent, PostDelete, PostSave, Saved};
use signals_core::prelude::*;

#[derive(Clone, Debug)]
pub struct Article {
    pub id: i64,
    pub title: String,
    pub body: String,
}

impl Model for Article {
    fn pk(&self) -> Option<i64> {
        Some(self.id)
    }
}

static ARTICLES: Mutex<BTreeMap<i64, Article>> = Mutex::new(BTreeMap::new());
/// The page cache: key -> rendered HTML.
static CACHE: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());
/// The search index: word -> article ids.
static SEARCH_INDEX: Mutex<BTreeMap<String, Vec<i64>>> = Mutex::new(BTreeMap::new());

/// The writes that `models::save` and `models::delete` wrap.
fn upsert_article(a: &Article) -> Result<Saved<()>, Infallible> {
    let previous = ARTICLES.lock().unwrap().insert(a.id, a.clone());
    Ok(if previous.is_none() {
        Saved::Created(())
    } else {
        Saved::Updated(())
    })
}

fn remove_article(a: &Article) -> Result<(), Infallible> {
    ARTICLES.lock().unwrap().remove(&a.id);
    Ok(())
}

/// The view: served from the cache when possible.
fn article_page(id: i64) -> String {
    let key = format!("article:{id}");
    if let Some(html) = CACHE.lock().unwrap().get(&key) {
        println!("  GET /articles/{id}: cache hit");
        return html.clone();
    }
    let html = match ARTICLES.lock().unwrap().get(&id) {
        Some(a) => format!("<h1>{}</h1><p>{}</p>", a.title, a.body),
        None => "<h1>404</h1>".to_owned(),
    };
    println!("  GET /articles/{id}: cache miss, rendered and cached");
    CACHE.lock().unwrap().insert(key, html.clone());
    html
}

/// One receiver, two signals.
#[receiver(PostSave, PostDelete, sender = Article)]
fn invalidate_cache(event: &dyn ModelEvent) {
    let pk = event.instance().pk().unwrap_or_default();
    let mut cache = CACHE.lock().unwrap();
    let mut cleared = Vec::new();
    for key in [format!("article:{pk}"), "article:list".to_owned()] {
        if cache.remove(&key).is_some() {
            cleared.push(key);
        }
    }
    println!(
        "  [{}] cache invalidated for {} {pk}: {cleared:?}",
        event.signal(),
        event.model_name()
    );
}

#[receiver(PostSave, sender = Article)]
fn update_search_index(event: &PostSave<'_, Article>) {
    let article = event.instance;
    let mut index = SEARCH_INDEX.lock().unwrap();
    index
        .values_mut()
        .for_each(|ids| ids.retain(|id| *id != article.id));
    for word in article.title.split_whitespace() {
        index
            .entry(word.to_lowercase())
            .or_default()
            .push(article.id);
    }
    index.retain(|_, ids| !ids.is_empty());
    println!("  [PostSave] search index updated for {:?}", article.title);
}

#[receiver(PostDelete, sender = Article)]
fn remove_from_search_index(event: &PostDelete<'_, Article>) {
    let mut index = SEARCH_INDEX.lock().unwrap();
    index
        .values_mut()
        .for_each(|ids| ids.retain(|id| *id != event.instance.id));
    index.retain(|_, ids| !ids.is_empty());
    println!(
        "  [PostDelete] article {} removed from the search index",
        event.instance.id
    );
}

fn search(word: &str) -> Vec<i64> {
    SEARCH_INDEX
        .lock()
        .unwrap()
        .get(word)
        .cloned()
        .unwrap_or_default()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("== create an article ==");
    let mut post = Article {
        id: 1,
        title: "Signals in Rust".into(),
        body: "Typed payloads.".into(),
    };
    models::save(&post, upsert_article)?;
    CACHE
        .lock()
        .unwrap()
        .insert("article:list".into(), "<ul>...</ul>".into());

    println!();
    println!("== read it twice ==");
    article_page(1);
    println!("  page: {}", article_page(1));

    println!();
    println!("== edit and save: the cache entry goes, the index follows ==");
    post.title = "Signals in Rust, revisited".into();
    models::save(&post, upsert_article)?;
    println!("  page: {}", article_page(1));
    println!("  search \"revisited\": {:?}", search("revisited"));

    println!();
    println!("== delete it ==");
    models::delete(&post, remove_article)?;
    println!("  page: {}", article_page(1));
    println!("  search \"signals\": {:?}", search("signals"));
    Ok(())
}
