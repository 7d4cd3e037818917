//! A small TTL cache: routes and rate books change rarely, and billing reads them per event. Its
//! time is the [`Clock`] port's, so tests decide when an entry is stale.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;

use crate::ports::clock::Clock;

/// Cache entries kept at most; past this the cache starts afresh (it only saves reads).
const CACHE_ENTRIES_MAX: usize = 10_000;

pub struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, (V, OffsetDateTime)>>,
    ttl: Duration,
    clock: Arc<dyn Clock>,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            ttl,
            clock,
        }
    }

    pub fn get(&self, key: &K) -> Option<V> {
        let now = self.clock.now();
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|(_, stored_at)| now - *stored_at < self.ttl)
            .map(|(value, _)| value.clone())
    }

    pub fn put(&self, key: K, value: V) {
        let now = self.clock.now();
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CACHE_ENTRIES_MAX {
            entries.clear();
        }
        entries.insert(key, (value, now));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};

    use super::*;

    /// A clock that moves only when told.
    struct Manual(AtomicI64);

    impl Clock for Manual {
        fn now(&self) -> OffsetDateTime {
            OffsetDateTime::UNIX_EPOCH + Duration::from_millis(self.0.load(Ordering::SeqCst) as u64)
        }
    }

    #[test]
    fn entries_go_stale_by_the_clock_port() {
        let clock = Arc::new(Manual(AtomicI64::new(0)));
        let cache = TtlCache::new(
            Duration::from_secs(60),
            Arc::clone(&clock) as Arc<dyn Clock>,
        );
        cache.put("route", 7);
        clock.0.store(59_999, Ordering::SeqCst);
        assert_eq!(cache.get(&"route"), Some(7));
        clock.0.store(60_000, Ordering::SeqCst);
        assert_eq!(cache.get(&"route"), None);
    }
}
