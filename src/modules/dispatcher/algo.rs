//! The selection algorithms of `ds_select_dst` (OpenSIPS `dispatch.c`): each gives the order in
//! which the active destinations of a set are tried, the chosen one first.

use std::sync::atomic::Ordering;

use super::set::DsSet;

/// How the first destination is chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum Pick {
    /// Algorithms 0-3, 5 and 7: a hash of some text of the message, spread by weight.
    Hash(u32),
    /// 4: weighted round-robin.
    RoundRobin,
    /// 6 and 11: random, weighted by `weight`.
    Random(u32),
    /// 8 (and unknown algorithms): the first destination in priority order.
    First,
    /// 9: the smallest value of `pvar_algo_pattern` for each destination (same order as the set).
    Load(Vec<i64>),
    /// 10: the destination with the fewest calls sent to it by this algorithm.
    LeastLoaded,
}

/// CRC-32 (IEEE) of `data`, as OpenSIPS hashes Call-ID, URIs and usernames.
pub fn hash(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Indices of the usable destinations, each repeated `weight` times (all once when no weights).
fn weighted(set: &DsSet, usable: &[usize]) -> Vec<usize> {
    let total: u64 = usable.iter().map(|&i| set.dests[i].weight as u64).sum();
    if total == 0 {
        return usable.to_vec();
    }
    let mut out = Vec::with_capacity(total.min(10_000) as usize);
    for &i in usable {
        // Weights are scaled so that a huge weight cannot blow the table up.
        let w = if total > 10_000 {
            (set.dests[i].weight as u64 * 10_000 / total).max(1)
        } else {
            set.dests[i].weight as u64
        };
        out.extend(std::iter::repeat_n(i, w as usize));
    }
    out
}

/// The order in which the destinations of `set` are tried; empty when none is usable.
/// With `use_default` the last destination is kept for the end (`d` flag).
pub fn order(set: &DsSet, pick: &Pick, use_default: bool) -> Vec<usize> {
    let n = set.dests.len();
    let last = n.checked_sub(1);
    let mut usable: Vec<usize> = (0..n)
        .filter(|&i| set.dests[i].is_active())
        .filter(|&i| !(use_default && Some(i) == last))
        .collect();
    let first = if usable.is_empty() {
        None
    } else {
        match pick {
            Pick::Hash(h) => {
                let w = weighted(set, &usable);
                Some(w[*h as usize % w.len()])
            }
            Pick::RoundRobin => {
                let w = weighted(set, &usable);
                Some(w[set.rr.fetch_add(1, Ordering::Relaxed) % w.len()])
            }
            Pick::Random(r) => {
                let w = weighted(set, &usable);
                Some(w[*r as usize % w.len()])
            }
            Pick::First => Some(usable[0]),
            Pick::Load(loads) => usable
                .iter()
                .copied()
                .min_by_key(|&i| loads.get(i).copied().unwrap_or(i64::MAX)),
            Pick::LeastLoaded => usable
                .iter()
                .copied()
                .min_by_key(|&i| set.dests[i].load.load(Ordering::Relaxed)),
        }
    };
    let mut out = Vec::with_capacity(usable.len() + 1);
    if let Some(f) = first {
        out.push(f);
        // The others in set order, starting after the chosen one.
        let pos = usable.iter().position(|&i| i == f).unwrap_or(0);
        usable.rotate_left(pos);
        out.extend(usable.into_iter().skip(1));
    }
    if use_default && let Some(l) = last {
        out.push(l);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::set::{DsState, Row, Sets};
    use super::*;

    fn sets(weights: &[&str]) -> Sets {
        let rows: Vec<Row> = weights
            .iter()
            .enumerate()
            .map(|(i, w)| Row {
                setid: 1,
                destination: format!("sip:127.0.0.{}:5060", i + 2),
                weight: w.to_string(),
                ..Row::default()
            })
            .collect();
        Sets::from_rows(&rows)
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(hash(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn hash_is_stable_and_spreads() {
        let s = sets(&["1", "1", "1"]);
        let set = &s.sets[0];
        let a = order(set, &Pick::Hash(hash(b"call-1@x")), false);
        for _ in 0..10 {
            assert_eq!(order(set, &Pick::Hash(hash(b"call-1@x")), false), a);
        }
        let mut seen = [0usize; 3];
        for i in 0..300 {
            let k = format!("call-{i}@host");
            seen[order(set, &Pick::Hash(hash(k.as_bytes())), false)[0]] += 1;
        }
        assert!(seen.iter().all(|&c| c > 50), "{seen:?}");
        assert_eq!(a.len(), 3, "failover list holds the others");
    }

    #[test]
    fn round_robin_follows_weights() {
        let s = sets(&["1", "3"]);
        let set = &s.sets[0];
        let mut seen = [0usize; 2];
        for _ in 0..40 {
            seen[order(set, &Pick::RoundRobin, false)[0]] += 1;
        }
        assert_eq!(seen, [10, 30]);
    }

    #[test]
    fn inactive_destinations_are_skipped_and_default_comes_last() {
        let s = sets(&["1", "1", "1"]);
        let set = &s.sets[0];
        set.dests[0].set_state(DsState::Inactive);
        assert_eq!(order(set, &Pick::First, false), vec![1, 2]);
        assert_eq!(order(set, &Pick::First, true), vec![1, 2]);
        set.dests[1].set_state(DsState::Probing);
        assert_eq!(order(set, &Pick::First, true), vec![2]);
        set.dests[2].set_state(DsState::Disabled);
        assert!(order(set, &Pick::RoundRobin, false).is_empty());
    }

    #[test]
    fn load_and_least_loaded_pick_the_smallest() {
        let s = sets(&["1", "1", "1"]);
        let set = &s.sets[0];
        assert_eq!(order(set, &Pick::Load(vec![5, 2, 9]), false)[0], 1);
        set.dests[0].load.store(3, Ordering::Relaxed);
        set.dests[1].load.store(1, Ordering::Relaxed);
        set.dests[2].load.store(2, Ordering::Relaxed);
        assert_eq!(order(set, &Pick::LeastLoaded, false), vec![1, 2, 0]);
    }

    #[test]
    fn random_respects_zero_weight() {
        let s = sets(&["0", "1"]);
        let set = &s.sets[0];
        for r in 0..50 {
            assert_eq!(order(set, &Pick::Random(r), false)[0], 1);
        }
    }
}
