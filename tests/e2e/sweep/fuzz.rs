//! The malformed-request sweep (quality.md R7): every field of every request spoiled in every way its
//! type allows, on top of a valid-looking base, then random spoils from the seed until the budget is
//! spent. Each answer is counted by code; none may be INTERNAL, and a refused request may store
//! nothing.
//!
//! Requests go out in batches (one field path's corpus, or a run of random spoils of one method),
//! many at a time, with the row counts read before and after each batch. A batch whose counts moved
//! is sent again one request at a time with the counts read around each, so that the rows are
//! pinned on the request that stored them.

use std::collections::BTreeMap;
use std::time::Duration;

use prost_reflect::{DynamicMessage, Kind, Value};
use tenure_grpc::ServiceKind;
use tonic::Code;

use super::Sweep;
use super::base::{self, Path};
use super::catalogue::Method;
use super::rows;
use super::values::{self, Mutation};
use super::wire::{Answer, Call};
use crate::stack::As;

/// One malformed request: who sends it, what, and how findings name it.
struct Variant {
    who: As,
    label: String,
    message: DynamicMessage,
}

/// Random spoils sent together.
const RANDOM_BATCH: usize = 48;

/// The fixed corpus for one field path of `base`.
fn corpus(base: &DynamicMessage, path: &Path, now: i64) -> Vec<Mutation> {
    let Some(field) = path.last() else {
        return Vec::new();
    };
    let valid = base::get(base, path);
    if field.is_list() {
        let items = match &valid {
            Some(Value::List(items)) => items.clone(),
            _ => Vec::new(),
        };
        let mut corpus = values::repeated(field, &items);
        // Each spoil of one element, in a list of one.
        if let Some(first) = items.first()
            && !matches!(field.kind(), Kind::Message(_))
        {
            for mutation in values::corpus(field, first, now) {
                corpus.push(Mutation {
                    label: format!("element {}", mutation.label),
                    value: mutation.value.map(|value| Value::List(vec![value])),
                });
            }
        }
        return corpus;
    }
    let valid = valid.unwrap_or_else(|| Value::default_value_for_field(field));
    values::corpus(field, &valid, now)
}

/// Answers decided before any effect: the request was malformed or its caller may not make it.
fn refused_by_validation(code: Code) -> bool {
    matches!(
        code,
        Code::InvalidArgument | Code::OutOfRange | Code::PermissionDenied | Code::Unauthenticated
    )
}

/// Whether a method's refusals are checked for stored rows. Moving the sandbox clock stores nothing
/// itself; what falls due then is the workers' doing.
fn tracks_rows(method: &Method) -> bool {
    method.mutating() && !method.path.ends_with("/AdvanceClock")
}

impl Sweep<'_> {
    /// Waits until the row counts hold still for a moment (at most a few seconds): what an accepted
    /// request set going in the background has finished.
    pub(crate) async fn settle(&mut self) {
        let mut last = self.rows.snapshot().await;
        for _ in 0..60 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = self.rows.snapshot().await;
            if now == last {
                break;
            }
            last = now;
        }
        self.last_rows = last;
    }

    fn calls(method: &Method, batch: &[Variant]) -> Vec<Call> {
        batch
            .iter()
            .map(|variant| Call {
                who: variant.who.clone(),
                kind: method.kind,
                path: method.path.clone(),
                body: prost::Message::encode_to_vec(&variant.message),
            })
            .collect()
    }

    /// Sends a batch of malformed variants, counts the answers, and checks that the refused ones
    /// stored no rows.
    async fn send_batch(&mut self, method: &Method, batch: Vec<Variant>) {
        if batch.is_empty() {
            return;
        }
        let before = self.last_rows.clone();
        let answers = self
            .wire
            .call_all(self.stack, Self::calls(method, &batch))
            .await;
        let label = method.label();
        for (variant, answer) in batch.iter().zip(&answers) {
            self.figures.malformed(&label, &variant.label, answer);
        }
        let accepted = answers.iter().any(|answer| answer.code == Code::Ok);
        if !tracks_rows(method) {
            return;
        }
        self.last_rows = self.rows.snapshot().await;
        // Only an accepted request that stored something can have set work going: wait for it.
        if accepted && self.last_rows != before {
            self.settle().await;
        }
        let changed = rows::changed(&before, &self.last_rows);
        if !changed.is_empty() {
            self.pin_rows(method, &batch, &answers, accepted, &changed)
                .await;
        }
    }

    /// The counts moved around a batch: each refused variant again, alone, with the counts around
    /// it. A batch that was all refusals stored rows even when the second sending (an idempotency
    /// replay, say) stores none.
    async fn pin_rows(
        &mut self,
        method: &Method,
        batch: &[Variant],
        answers: &[Answer],
        accepted: bool,
        batch_changed: &[(String, i64)],
    ) {
        let label = method.label();
        let mut pinned = false;
        for (variant, first) in batch.iter().zip(answers) {
            if first.code == Code::Ok {
                continue;
            }
            let before = self.rows.snapshot().await;
            let call = Self::calls(method, std::slice::from_ref(variant));
            let answer = self.wire.call_all(self.stack, call).await.remove(0);
            let after = self.rows.snapshot().await;
            let changed = rows::changed(&before, &after);
            if answer.code == Code::Ok {
                self.settle().await;
            } else if !changed.is_empty() && self.holds_still(&after).await {
                pinned = true;
                self.rows_kept(
                    method.kind,
                    &format!("{label} {}", variant.label),
                    answer.code,
                    &changed,
                );
            }
        }
        if !accepted && !pinned {
            self.settle().await;
            // No single one moved the counts: the batch again, as it went the first time. Refused
            // requests meet no state they changed, so the counts move again if they store rows;
            // a background worker's write does not come back on cue.
            let before = self.last_rows.clone();
            self.wire
                .call_all(self.stack, Self::calls(method, batch))
                .await;
            let after = self.rows.snapshot().await;
            if rows::changed(&before, &after).is_empty() {
                self.figures.background_changes += 1;
            } else {
                let code = answers
                    .iter()
                    .map(|answer| answer.code)
                    .find(|code| !refused_by_validation(*code))
                    .unwrap_or(Code::InvalidArgument);
                self.rows_kept(
                    method.kind,
                    &format!("{label}: a batch of {} refusals", batch.len()),
                    code,
                    batch_changed,
                );
            }
        }
        self.settle().await;
    }

    /// Counts rows a refused request kept: a defect when validation or authorization refused it
    /// (quality.md §2: nothing is stored before validation passes); a journal entry by design when
    /// the request passed them and failed later (provisioning persists every AWS call it made).
    ///
    /// Only the called service's own tables count: a refused request reaches no other service's
    /// schema, while sagas seeded earlier go on writing theirs in the background (an orders step
    /// settling just as a provisioning call is refused).
    fn rows_kept(
        &mut self,
        callee: ServiceKind,
        what: &str,
        code: Code,
        changed: &[(String, i64)],
    ) {
        let own_schema = format!("{}.", callee.schema());
        let changed: Vec<(String, i64)> = changed
            .iter()
            .filter(|(table, _)| table.starts_with(&own_schema))
            .cloned()
            .collect();
        if changed.is_empty() {
            self.figures.background_changes += 1;
            return;
        }
        if refused_by_validation(code) {
            self.figures.refused_with_rows += 1;
            self.figures.finding(
                "rows stored by a refused request",
                format!("{what}: {code:?} stored {changed:?}"),
            );
        } else {
            self.figures.business_refusals_with_rows += 1;
            self.figures.finding(
                "rows kept by a refusal after validation",
                format!("{what}: {code:?} kept {changed:?}"),
            );
        }
    }

    /// Whether the counts stay at `after` for a moment: a background worker still writing does not.
    async fn holds_still(&mut self, after: &BTreeMap<String, i64>) -> bool {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let later = self.rows.snapshot().await;
        if &later == after {
            true
        } else {
            self.figures.background_changes += 1;
            false
        }
    }

    /// The fuzz order: reads first, then mutations, the data owners' purge interface last (its
    /// `Execute` deletes what its base names), and never the sandbox clock (it moves every
    /// service's business time; [`Sweep::fuzz_clock`] spoils it after everything else).
    pub(crate) fn fuzz_order(&self) -> Vec<Method> {
        let mut methods: Vec<Method> = self
            .methods
            .iter()
            .filter(|method| !method.path.ends_with("SandboxService/AdvanceClock"))
            .filter(|method| !method.callers(&self.attacker).is_empty())
            .cloned()
            .collect();
        methods.sort_by_key(|method| {
            (
                method.path.contains("PurgeParticipant"),
                method.mutating(),
                method.path.clone(),
            )
        });
        methods
    }

    /// The malformed-request sweep over `methods`: the fixed corpus of every field path, then random
    /// spoils until `budget` requests were sent.
    pub(crate) async fn fuzz(&mut self, methods: &[Method], budget: u64) {
        self.settle().await;
        for method in methods {
            self.fuzz_corpus(method).await;
        }
        self.progress(&format!(
            "fixed corpus sent: {} malformed requests",
            self.figures.malformed
        ));
        while self.figures.malformed < budget {
            let method = self.rng.pick(methods).clone();
            let mut batch = Vec::with_capacity(RANDOM_BATCH);
            for _ in 0..RANDOM_BATCH {
                if let Some(variant) = self.random_variant(&method).await {
                    batch.push(variant);
                }
            }
            self.send_batch(&method, batch).await;
        }
    }

    /// Every corpus value of every field path, one batch per path, as the first allowed caller.
    async fn fuzz_corpus(&mut self, method: &Method) {
        let Some(who) = method.callers(&self.attacker).into_iter().next() else {
            return;
        };
        let before = self.rows.snapshot().await;
        for path in base::paths(&method.input) {
            let base = self.base_for(method, &who, &path).await;
            let batch = corpus(&base, &path, self.now)
                .into_iter()
                .map(|mutation| {
                    let mut message = base.clone();
                    base::put(&mut message, &path, mutation.value);
                    Variant {
                        who: who.clone(),
                        label: format!("{} = {}", dotted(&path), mutation.label),
                        message,
                    }
                })
                .collect();
            self.send_batch(method, batch).await;
        }
        if base::paths(&method.input).is_empty() {
            self.send_batch(method, vec![self.unknown_field(method, &who)])
                .await;
        }
        if !method.mutating() {
            let changed = rows::changed(&before, &self.rows.snapshot().await);
            if !changed.is_empty() {
                self.figures.finding(
                    "rows changed around reads",
                    format!("{}: {changed:?}", method.label()),
                );
            }
        }
    }

    /// A request with no fields to spoil (`GetClock`, `DescribeDataClasses`) carries an unknown one.
    fn unknown_field(&self, method: &Method, who: &As) -> Variant {
        let mut message = DynamicMessage::new(method.input.clone());
        let unknown = [0xa2, 0x06, 0x03, b'x', b'y', b'z'];
        prost::Message::merge(&mut message, unknown.as_slice()).expect("an unknown field");
        Variant {
            who: who.clone(),
            label: "unknown field 100".to_owned(),
            message,
        }
    }

    /// One random variant: a random caller the policy allows, one to three paths spoiled with a
    /// corpus value or a random one.
    async fn random_variant(&mut self, method: &Method) -> Option<Variant> {
        let callers = method.callers(&self.attacker);
        let who = self.rng.pick(&callers).clone();
        let paths = base::paths(&method.input);
        if paths.is_empty() {
            return Some(self.unknown_field(method, &who));
        }
        let first = self.rng.pick(&paths).clone();
        let base = self.base_for(method, &who, &first).await;
        let mut message = base.clone();
        let mut labels = Vec::new();
        for index in 0..=self.rng.index(3) {
            let path = if index == 0 {
                first.clone()
            } else {
                self.rng.pick(&paths).clone()
            };
            let Some(field) = path.last() else { continue };
            let value = if self.rng.chance(50) {
                values::random(&mut self.rng, field, self.now).map(|value| {
                    if field.is_list() {
                        Value::List(vec![value])
                    } else {
                        value
                    }
                })
            } else {
                let corpus = corpus(&base, &path, self.now);
                if corpus.is_empty() {
                    continue;
                }
                self.rng.pick(&corpus).value.clone()
            };
            labels.push(format!("{} random", dotted(&path)));
            base::put(&mut message, &path, value);
        }
        Some(Variant {
            who,
            label: labels.join(", "),
            message,
        })
    }

    /// The base request of `method` through `path`'s oneof members, built and sent once per caller.
    /// Its idempotency key stays in every variant: a variant that is still valid then replays or
    /// reuses the key instead of creating one more object each time.
    async fn base_for(&mut self, method: &Method, who: &As, path: &Path) -> DynamicMessage {
        let key = format!("{}|{:?}|{}", method.label(), who, base::choices(path));
        if let Some(base) = self.bases.get(&key) {
            return base.clone();
        }
        let base = self.attacker_base(method, path);
        let call = Call {
            who: who.clone(),
            kind: method.kind,
            path: method.path.clone(),
            body: prost::Message::encode_to_vec(&base),
        };
        let answer = self.wire.call_all(self.stack, vec![call]).await.remove(0);
        self.figures.bases += 1;
        *self
            .figures
            .base_codes
            .entry(format!("{:?}", answer.code))
            .or_insert(0) += 1;
        if matches!(answer.code, Code::Internal | Code::Unknown) {
            self.figures.internal += 1;
            self.figures.finding(
                "INTERNAL",
                format!("{} base: {}", method.label(), answer.message),
            );
        }
        if tracks_rows(method) {
            let after = self.rows.snapshot().await;
            let changed = rows::changed(&self.last_rows, &after);
            self.last_rows = after;
            if answer.code == Code::Ok {
                if !changed.is_empty() {
                    self.settle().await;
                }
            } else if !changed.is_empty() && self.holds_still(&self.last_rows.clone()).await {
                self.rows_kept(
                    method.kind,
                    &format!("{} base", method.label()),
                    answer.code,
                    &changed,
                );
            }
        }
        self.bases.insert(key, base.clone());
        base
    }

    /// The sandbox clock, spoiled last: a valid duration moves every service's business time.
    pub(crate) async fn fuzz_clock(&mut self) {
        let Some(method) = self
            .methods
            .iter()
            .find(|method| method.path.ends_with("SandboxService/AdvanceClock"))
            .cloned()
        else {
            return;
        };
        self.fuzz_corpus(&method).await;
    }
}

fn dotted(path: &Path) -> String {
    path.iter()
        .map(prost_reflect::FieldDescriptor::name)
        .collect::<Vec<_>>()
        .join(".")
}
