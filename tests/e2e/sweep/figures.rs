//! What the sweep counts, and the figures it prints for the README.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use tonic::Code;

use super::wire::Answer;

/// How many findings of each kind are kept verbatim for the report.
const EXAMPLES: usize = 12;

#[derive(Default)]
pub(crate) struct Figures {
    pub(crate) seed: u64,
    pub(crate) full_scale: bool,
    /// Valid-looking requests sent to build on, not counted as malformed.
    pub(crate) bases: u64,
    pub(crate) base_codes: BTreeMap<String, u64>,
    pub(crate) malformed: u64,
    pub(crate) bad_request: u64,
    /// INVALID_ARGUMENT answers without a field violation (quality.md §2 wants one on each).
    pub(crate) invalid_without_violation: u64,
    /// Codes by method, INVALID_ARGUMENT included.
    pub(crate) codes: BTreeMap<String, BTreeMap<String, u64>>,
    pub(crate) internal: u64,
    /// Answers the sweep gave up waiting for, or that the connection broke under.
    pub(crate) hung: u64,
    pub(crate) refused_with_rows: u64,
    /// Row changes after a refusal that a background worker made: seen, then re-checked.
    pub(crate) background_changes: u64,
    pub(crate) cross_tenant: u64,
    pub(crate) cross_tenant_by_method: BTreeMap<String, u64>,
    pub(crate) leaks: u64,
    pub(crate) write_leaks: u64,
    pub(crate) oracles: u64,
    /// Pairs of state-changing twins where only the first was accepted (see `bola::judge`).
    pub(crate) state_changed_pairs: u64,
    /// Rows kept by requests refused after validation (a failed AWS call's journal entry, say):
    /// reported, since the design keeps them, but not counted as stored by a refusal.
    pub(crate) business_refusals_with_rows: u64,
    /// (method, statistic, p-value, calls per sample).
    pub(crate) timing: Vec<(String, f64, f64, usize)>,
    pub(crate) findings: BTreeMap<&'static str, Vec<String>>,
    /// Reads of the victim's objects compared before and after the sweep.
    pub(crate) victim_reads: usize,
    /// Tables whose rows are counted around refusals.
    pub(crate) tables: usize,
    pub(crate) fuzz_seconds: f64,
    pub(crate) bola_seconds: f64,
    pub(crate) total_seconds: f64,
}

pub(crate) fn code_name(code: Code) -> String {
    format!("{code:?}")
}

impl Figures {
    pub(crate) fn finding(&mut self, kind: &'static str, text: String) {
        let list = self.findings.entry(kind).or_default();
        if list.len() < EXAMPLES {
            list.push(text);
        }
    }

    /// Counts one malformed request's answer.
    pub(crate) fn malformed(&mut self, method: &str, what: &str, answer: &Answer) {
        self.malformed += 1;
        *self
            .codes
            .entry(method.to_owned())
            .or_default()
            .entry(code_name(answer.code))
            .or_insert(0) += 1;
        match answer.code {
            Code::InvalidArgument if answer.field_violations() > 0 => self.bad_request += 1,
            Code::InvalidArgument => {
                self.invalid_without_violation += 1;
                self.finding(
                    "INVALID_ARGUMENT without a field violation",
                    format!("{method} {what}: {}", answer.message),
                );
            }
            // The answer never arrived whole: the sweep stopped waiting, or the connection broke
            // under it (an h2 protocol error also cancels every other call on the connection).
            _ if matches!(answer.code, Code::DeadlineExceeded | Code::Cancelled)
                || answer.message.contains("h2 protocol error") =>
            {
                self.hung += 1;
                self.finding(
                    "hung or broken",
                    format!("{method} {what}: {:?} {}", answer.code, answer.message),
                );
            }
            Code::Internal | Code::Unknown | Code::DataLoss => {
                self.internal += 1;
                self.finding("INTERNAL", format!("{method} {what}: {}", answer.message));
            }
            _ => {}
        }
    }

    /// Every figure, as the README publishes them.
    pub(crate) fn report(&self) -> String {
        let mut out = String::new();
        let scale = if self.full_scale { "full" } else { "default" };
        let _ = writeln!(
            out,
            "== sweep figures (seed {:#x}, {scale} scale)",
            self.seed
        );
        let _ = writeln!(
            out,
            "malformed requests {} (plus {} valid-looking bases), in {:.1} s",
            self.malformed, self.bases, self.fuzz_seconds
        );
        let _ = writeln!(
            out,
            "  INVALID_ARGUMENT with a google.rpc.BadRequest field violation: {}",
            self.bad_request
        );
        let _ = writeln!(
            out,
            "  INVALID_ARGUMENT without one: {}",
            self.invalid_without_violation
        );
        let _ = writeln!(
            out,
            "  INTERNAL (or UNKNOWN, DATA_LOSS): {}; hung or broken connections: {}",
            self.internal, self.hung
        );
        let _ = writeln!(
            out,
            "  rows stored by refused requests: {} (background changes re-checked: {})",
            self.refused_with_rows, self.background_changes
        );
        let _ = writeln!(
            out,
            "  refusals after validation that kept rows (journal entries by design): {}",
            self.business_refusals_with_rows
        );
        let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
        for codes in self.codes.values() {
            for (code, count) in codes {
                *totals.entry(code.as_str()).or_insert(0) += count;
            }
        }
        let _ = writeln!(out, "  codes overall: {totals:?}");
        let _ = writeln!(out, "  bases answered: {:?}", self.base_codes);
        let _ = writeln!(out, "  other codes by method:");
        for (method, codes) in &self.codes {
            let others: Vec<String> = codes
                .iter()
                .filter(|(code, _)| code.as_str() != "InvalidArgument")
                .map(|(code, count)| format!("{code} {count}"))
                .collect();
            let _ = writeln!(out, "    {method}: {}", others.join(", "));
        }
        let _ = writeln!(
            out,
            "cross-tenant attempts {} in {:.1} s over {} methods; leaks {}; write leaks {}; oracle differences {} \
             (state-changing pairs where only the first was accepted: {})",
            self.cross_tenant,
            self.bola_seconds,
            self.cross_tenant_by_method.len(),
            self.leaks,
            self.write_leaks,
            self.oracles,
            self.state_changed_pairs
        );
        let _ = writeln!(
            out,
            "  the victim's reads compared before and after: {}; rows counted in {} tables",
            self.victim_reads, self.tables
        );
        for (method, statistic, p_value, n) in &self.timing {
            let _ = writeln!(
                out,
                "  timing {method}: KS D = {statistic:.3}, p = {p_value:.3} over {n} + {n} calls"
            );
        }
        for (kind, examples) in &self.findings {
            let _ = writeln!(out, "  {kind}:");
            for example in examples {
                let _ = writeln!(out, "    {example}");
            }
        }
        let _ = writeln!(out, "total {:.1} s", self.total_seconds);
        out
    }
}
