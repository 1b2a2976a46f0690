//! A small covering-array generator: rows of parameter values such that every pair of values of
//! every two parameters appears in some row (all-pairs testing), with far fewer rows than the
//! full product. Greedy: seed each row with an uncovered pair, then give every other parameter
//! the value that covers the most uncovered pairs with the values already chosen.

use std::collections::BTreeSet;

type Pair = (usize, usize, usize, usize);

/// Candidate rows tried for each row of the array; the one covering most new pairs is kept.
const CANDIDATES: usize = 24;

/// Rows of value indexes, `levels[i]` values for parameter `i`.
pub fn covering_array(levels: &[usize]) -> Vec<Vec<usize>> {
    let n = levels.len();
    if n == 1 {
        return (0..levels[0]).map(|v| vec![v]).collect();
    }
    let mut uncovered: BTreeSet<Pair> = BTreeSet::new();
    for i in 0..n {
        for j in i + 1..n {
            for a in 0..levels[i] {
                for b in 0..levels[j] {
                    uncovered.insert((i, a, j, b));
                }
            }
        }
    }
    let mut rows = Vec::new();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    while !uncovered.is_empty() {
        let seeds: Vec<Pair> = uncovered.iter().copied().collect();
        let mut best: Option<(usize, Vec<usize>)> = None;
        for c in 0..CANDIDATES.min(seeds.len()) {
            let pair = seeds[c * seeds.len() / CANDIDATES.min(seeds.len())];
            let order = shuffled(n, &mut seed);
            let row = build_row(levels, &uncovered, pair, &order);
            let gain = new_pairs(&row, &uncovered);
            if best.as_ref().is_none_or(|(g, _)| gain > *g) {
                best = Some((gain, row));
            }
        }
        let (_, row) = best.expect("at least one candidate");
        for x in 0..n {
            for y in x + 1..n {
                uncovered.remove(&(x, row[x], y, row[y]));
            }
        }
        rows.push(row);
    }
    rows
}

fn shuffled(n: usize, seed: &mut u64) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let j = (*seed >> 33) as usize % (i + 1);
        v.swap(i, j);
    }
    v
}

fn new_pairs(row: &[usize], uncovered: &BTreeSet<Pair>) -> usize {
    let n = row.len();
    (0..n)
        .flat_map(|x| (x + 1..n).map(move |y| (x, y)))
        .filter(|&(x, y)| uncovered.contains(&(x, row[x], y, row[y])))
        .count()
}

/// A row holding `pair`, the other parameters filled in `order`, each with the value that
/// covers the most uncovered pairs with the values already chosen.
fn build_row(
    levels: &[usize],
    uncovered: &BTreeSet<Pair>,
    pair: Pair,
    order: &[usize],
) -> Vec<usize> {
    let (i, a, j, b) = pair;
    let mut row: Vec<Option<usize>> = vec![None; levels.len()];
    row[i] = Some(a);
    row[j] = Some(b);
    for &k in order {
        if row[k].is_some() {
            continue;
        }
        let gain = |v: usize| {
            row.iter()
                .enumerate()
                .filter_map(|(m, val)| val.map(|x| (m, x)))
                .filter(|&(m, x)| {
                    let p = if m < k { (m, x, k, v) } else { (k, v, m, x) };
                    uncovered.contains(&p)
                })
                .count()
        };
        let best = (0..levels[k])
            .max_by_key(|&v| (gain(v), std::cmp::Reverse(v)))
            .unwrap_or(0);
        row[k] = Some(best);
    }
    row.into_iter().map(|v| v.unwrap_or(0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covers_all_pairs(levels: &[usize], rows: &[Vec<usize>]) -> bool {
        let n = levels.len();
        (0..n).all(|i| {
            (i + 1..n).all(|j| {
                (0..levels[i])
                    .all(|a| (0..levels[j]).all(|b| rows.iter().any(|r| r[i] == a && r[j] == b)))
            })
        })
    }

    #[test]
    fn sixteen_toggles_need_few_rows() {
        let levels = vec![2; 16];
        let rows = covering_array(&levels);
        assert!(covers_all_pairs(&levels, &rows));
        assert!(rows.len() <= 10, "{} rows", rows.len());
    }

    #[test]
    fn mixed_levels_are_covered() {
        let levels = vec![3, 2, 2, 4, 2];
        let rows = covering_array(&levels);
        assert!(covers_all_pairs(&levels, &rows));
        assert!(rows.len() < 3 * 2 * 2 * 4 * 2);
    }

    #[test]
    fn single_parameter_lists_its_values() {
        assert_eq!(covering_array(&[3]), vec![vec![0], vec![1], vec![2]]);
    }
}
