//! A small bounded map for the mock agent's conversation and task memory: at most `max_len`
//! entries and `max_weight` bytes; the oldest inserted entries go first.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

#[derive(Debug)]
pub(crate) struct Bounded<K, V> {
    max_len: usize,
    max_weight: usize,
    weight: usize,
    map: HashMap<K, (V, usize)>,
    /// Insertion order of the keys in `map` (entries are only ever removed by eviction).
    order: VecDeque<K>,
}

impl<K: Eq + Hash + Clone, V> Bounded<K, V> {
    pub(crate) fn new(max_len: usize, max_weight: usize) -> Self {
        Bounded {
            max_len: max_len.max(1),
            max_weight,
            weight: 0,
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key).map(|(v, _)| v)
    }

    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.map.get_mut(key).map(|(v, _)| v)
    }

    /// Inserts or replaces `key`; `weight` is the entry's approximate size in bytes.
    pub(crate) fn insert(&mut self, key: K, value: V, weight: usize) {
        if let Some((_, old)) = self.map.insert(key.clone(), (value, weight)) {
            self.weight -= old;
        } else {
            self.order.push_back(key);
        }
        self.weight += weight;
        self.evict();
    }

    /// Updates the recorded weight of `key` after it was changed through [`Self::get_mut`].
    pub(crate) fn reweigh(&mut self, key: &K, weight: usize) {
        if let Some((_, w)) = self.map.get_mut(key) {
            self.weight = self.weight - *w + weight;
            *w = weight;
        }
        self.evict();
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    fn evict(&mut self) {
        while self.map.len() > self.max_len || (self.weight > self.max_weight && self.len() > 1) {
            let Some(oldest) = self.order.pop_front() else { break };
            if let Some((_, w)) = self.map.remove(&oldest) {
                self.weight -= w;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_oldest_by_count() {
        let mut m = Bounded::new(3, usize::MAX);
        for i in 0..5 {
            m.insert(i, i * 10, 1);
        }
        assert_eq!(m.len(), 3);
        assert!(m.get(&0).is_none() && m.get(&1).is_none());
        assert_eq!(m.get(&4), Some(&40));
    }

    #[test]
    fn evicts_oldest_by_weight_but_keeps_the_newest() {
        let mut m = Bounded::new(100, 10);
        m.insert("a", (), 4);
        m.insert("b", (), 4);
        m.insert("c", (), 4);
        assert!(m.get(&"a").is_none());
        assert_eq!(m.len(), 2);
        m.insert("huge", (), 1000);
        assert_eq!(m.len(), 1);
        assert!(m.get(&"huge").is_some());
        m.reweigh(&"huge", 1);
        m.insert("d", (), 1);
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn replacing_keeps_one_entry() {
        let mut m = Bounded::new(2, usize::MAX);
        m.insert("a", 1, 1);
        m.insert("a", 2, 1);
        m.insert("b", 3, 1);
        assert_eq!(m.get(&"a"), Some(&2));
        if let Some(v) = m.get_mut(&"b") {
            *v = 4;
        }
        assert_eq!(m.get(&"b"), Some(&4));
    }
}
