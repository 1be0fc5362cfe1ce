//! The timing class of the existence oracle (quality.md §1.6): how long reads take with the victim's
//! id against a random id, compared with a two-sample Kolmogorov–Smirnov statistic.
//!
//! Timings on a shared two-core machine are noisy (other builds, the database's checkpoints), so the
//! test asserts only a generous bound on the statistic: a lookup that did visibly more work for an
//! existing foreign object (an unscoped pre-check, a second query) shifts the whole distribution and
//! drives D towards 1, while scheduling noise stays far below the bound. The p-value is printed for
//! the figures, never asserted.

use std::time::Duration;

use prost_reflect::Value;

use super::Sweep;
use super::base;
use super::world::IdKind;

/// The reads whose timing the sweep compares, and the kind of id each takes.
const READS: &[(&str, &str, IdKind)] = &[
    ("OrderService/GetOrder", "order_id", IdKind::Order),
    ("AccountService/GetAccount", "id", IdKind::Record),
    ("PurgeService/GetPurge", "purge_id", IdKind::Purge),
];

/// The two-sample Kolmogorov–Smirnov statistic: the largest gap between the empirical distributions.
pub(crate) fn ks_statistic(a: &[Duration], b: &[Duration]) -> f64 {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    b.sort();
    let (mut i, mut j, mut gap) = (0, 0, 0.0_f64);
    let (n, m) = (a.len() as f64, b.len() as f64);
    while i < a.len() && j < b.len() {
        let next = a[i].min(b[j]);
        while i < a.len() && a[i] == next {
            i += 1;
        }
        while j < b.len() && b[j] == next {
            j += 1;
        }
        gap = gap.max((i as f64 / n - j as f64 / m).abs());
    }
    gap
}

/// The asymptotic p-value of a two-sample KS statistic (the Kolmogorov distribution, with Stephens'
/// small-sample correction).
pub(crate) fn ks_p_value(statistic: f64, n: usize, m: usize) -> f64 {
    let effective = (n * m) as f64 / (n + m) as f64;
    let root = effective.sqrt();
    let lambda = (root + 0.12 + 0.11 / root) * statistic;
    // The series converges slowly near zero, where the distribution is 1 anyway.
    if lambda < 0.2 {
        return 1.0;
    }
    let mut sum = 0.0;
    for j in 1..=100 {
        let j = f64::from(j);
        let term = 2.0 * (-1.0_f64).powf(j - 1.0) * (-2.0 * j * j * lambda * lambda).exp();
        sum += term;
        if term.abs() < 1e-10 {
            break;
        }
    }
    sum.clamp(0.0, 1.0)
}

impl Sweep<'_> {
    /// `calls` reads with the victim's id and as many with random ids, interleaved (alternating which
    /// goes first) so that drift in the machine's load falls on both samples alike.
    pub(crate) async fn timing(&mut self, calls: usize) {
        for (suffix, field, kind) in READS {
            let Some(method) = self
                .methods
                .iter()
                .find(|method| method.path.ends_with(suffix))
                .cloned()
            else {
                panic!("{suffix} is not in the contracts");
            };
            let path: base::Path = base::paths(&method.input)
                .into_iter()
                .find(|path| path.len() == 1 && path[0].name() == *field)
                .expect("the id field");
            let who = self.attacker.customer();
            let victim_id = self.victim.first(*kind);
            let mut victim_times = Vec::with_capacity(calls);
            let mut random_times = Vec::with_capacity(calls);
            for round in 0..calls + 20 {
                let random_id = kind.random(&mut self.rng, &victim_id);
                let mut pair = Vec::new();
                for id in [&victim_id, &random_id] {
                    let mut message = self.attacker_base(&method, &path);
                    base::put(&mut message, &path, Some(Value::String(id.clone())));
                    pair.push(prost::Message::encode_to_vec(&message));
                }
                let victim_first = round % 2 == 0;
                if !victim_first {
                    pair.reverse();
                }
                let mut elapsed = Vec::new();
                for body in pair {
                    let answer = self
                        .wire
                        .call(self.stack, &who, method.kind, &method.path, body)
                        .await;
                    elapsed.push(answer.elapsed);
                }
                if !victim_first {
                    elapsed.reverse();
                }
                // The first rounds warm connections and caches up.
                if round >= 20 {
                    victim_times.push(elapsed[0]);
                    random_times.push(elapsed[1]);
                }
            }
            let statistic = ks_statistic(&victim_times, &random_times);
            let p_value = ks_p_value(statistic, calls, calls);
            self.figures
                .timing
                .push((method.label(), statistic, p_value, calls));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statistic_is_zero_for_equal_samples_and_one_for_disjoint_ones() {
        let low: Vec<Duration> = (1..=50).map(Duration::from_millis).collect();
        let high: Vec<Duration> = (100..150).map(Duration::from_millis).collect();
        assert!(ks_statistic(&low, &low).abs() < f64::EPSILON);
        assert!((ks_statistic(&low, &high) - 1.0).abs() < f64::EPSILON);
        assert!(ks_p_value(1.0, 50, 50) < 1e-6);
        assert!(ks_p_value(0.0, 50, 50) > 0.99);
    }
}
