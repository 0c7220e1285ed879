//! Hands a value from a `before_*` hook to the matching `after_*` hook of the same write.
//!
//! SeaORM calls `before_save` and `after_save` (or `before_delete` and `after_delete`) from
//! one future, with a database round trip in between, and passes nothing from one to the
//! other but the row. What only the first hook knows (the columns an update writes, the row
//! a partial `ActiveModel` deletes) is parked here, keyed by the running task (tokio's task
//! id, else the thread), the entity type and the primary key, and taken back by the second
//! hook.
//!
//! A write that fails between the two hooks leaves its entry behind; the map is cleared
//! when it grows past [`LIMIT`] entries, so at worst such a leftover costs a few bytes until
//! then, and an in-flight write then reports what it could not recover as unknown.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Entries kept before the stash is cleared (only failed writes leave entries behind).
const LIMIT: usize = 4096;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Runner {
    Task(tokio::task::Id),
    Thread(std::thread::ThreadId),
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    runner: Runner,
    kind: TypeId,
    pk: String,
}

type Map = HashMap<Key, Box<dyn Any + Send>>;

static STASH: Mutex<Option<Map>> = Mutex::new(None);

fn key<K: Any>(pk: String) -> Key {
    let runner = match tokio::task::try_id() {
        Some(id) => Runner::Task(id),
        None => Runner::Thread(std::thread::current().id()),
    };
    Key {
        runner,
        kind: TypeId::of::<K>(),
        pk,
    }
}

/// Parks `value` for the write of the row `pk` of kind `K` by the current task.
pub(crate) fn put<K: Any, V: Any + Send>(pk: String, value: V) {
    let key = key::<K>(pk);
    let mut guard = STASH.lock().unwrap_or_else(PoisonError::into_inner);
    let map = guard.get_or_insert_with(HashMap::new);
    if map.len() >= LIMIT {
        map.clear();
    }
    map.insert(key, Box::new(value));
}

/// Takes back what [`put`] parked for this task, kind and key.
pub(crate) fn take<K: Any, V: Any>(pk: String) -> Option<V> {
    let key = key::<K>(pk);
    let mut guard = STASH.lock().unwrap_or_else(PoisonError::into_inner);
    let value = guard.as_mut()?.remove(&key)?;
    value.downcast::<V>().ok().map(|boxed| *boxed)
}
