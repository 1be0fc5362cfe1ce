//! The cross-tenant sweep (quality.md R8, S4, S5): every method that takes an id, called by the
//! attacking tenant's customer and by services acting for it, once with each of the victim's ids and
//! once with a random id of the same shape. The two answers must be the same byte for byte (code,
//! message, details, headers and trailers but the date and trace ones; an accepted answer's body up
//! to the ids and times it creates), and none may carry the victim's data.

use futures::StreamExt as _;
use prost_reflect::{DynamicMessage, Kind, Value};
use tenure_grpc::ServiceKind;
use tonic::Code;

use super::Sweep;
use super::base::{self, Path};
use super::catalogue::Method;
use super::values;
use super::wire::{Answer, CONCURRENCY};
use super::world::IdKind;
use crate::stack::As;

/// One method, one id field in it, one caller bound to the attacking tenant.
#[derive(Clone)]
pub(crate) struct Target {
    pub(crate) method: Method,
    pub(crate) path: Path,
    pub(crate) kind: IdKind,
    pub(crate) who: As,
}

/// The id field's kind at the end of `path`, if it names a tenant's object.
pub(crate) fn id_kind(path: &Path) -> Option<IdKind> {
    let field = path.last()?;
    if field.kind() != Kind::String {
        return None;
    }
    IdKind::of_field(field.parent_message().full_name(), field.name())
}

/// An answer with the id that was sent replaced, in parts (code, message, details, headers and
/// trailers, body); an accepted answer's body as canonical JSON with every UUID and time replaced (two
/// new orders differ in nothing else).
fn comparable(
    answer: &Answer,
    sent: &str,
    output: &prost_reflect::MessageDescriptor,
) -> [(&'static str, String); 5] {
    let scrub = |text: &str| text.replace(sent, "<sent>");
    let body = if answer.code == Code::Ok {
        DynamicMessage::decode(output.clone(), answer.body.as_slice())
            .ok()
            .and_then(|message| serde_json::to_value(&message).ok())
            .map(|json| canonical(&json, sent).to_string())
            .unwrap_or_else(|| "<undecodable>".to_owned())
    } else {
        String::new()
    };
    [
        ("code", format!("{:?}", answer.code)),
        ("message", scrub(&answer.message)),
        // Escaped, so that every byte counts; the ids sent are printable ASCII and survive it.
        ("details", scrub(&answer.details.escape_ascii().to_string())),
        ("metadata", scrub(&format!("{:?}", answer.metadata))),
        ("body", body),
    ]
}

/// The first part in which two answers differ, with both versions around the first difference.
fn difference(
    victim: &[(&'static str, String); 5],
    random: &[(&'static str, String); 5],
) -> Option<String> {
    let ((part, left), (_, right)) = victim
        .iter()
        .zip(random)
        .find(|(left, right)| left.1 != right.1)?;
    let (left, right): (Vec<char>, Vec<char>) = (left.chars().collect(), right.chars().collect());
    let at = left
        .iter()
        .zip(&right)
        .position(|(a, b)| a != b)
        .unwrap_or(left.len().min(right.len()));
    let around =
        |text: &[char]| -> String { text.iter().skip(at.saturating_sub(60)).take(160).collect() };
    Some(format!(
        "{part}: victim's {:?} vs random {:?}",
        around(&left),
        around(&right)
    ))
}

/// Whether a caller bound to a tenant must see another tenant's id of `kind` in a request to
/// `callee` exactly as a random one. Customers: every id. A service acting for a tenant: the ids the
/// callee owns (it can tell whose they are), the tenant itself, and page tokens. Ids another service
/// owns are references the callee records without looking up (accounts keeps the order that
/// offboards an account), and AWS's own ids (accounts, handshakes, billing transfers) are one
/// global namespace that the trusted orders service resolves through the accounts registry, which
/// keeps one live record per account across tenants and tells orders of a conflict (TNR213).
fn held_to_tenant_line(who: &As, kind: IdKind, callee: ServiceKind) -> bool {
    if matches!(who, As::User(..) | As::Customer(_)) {
        return true;
    }
    let owner = match kind {
        IdKind::Tenant | IdKind::PageToken => return true,
        IdKind::AwsAccount | IdKind::Handshake | IdKind::Transfer => return false,
        IdKind::Order | IdKind::Task | IdKind::Saga | IdKind::Query => ServiceKind::Orders,
        IdKind::Record | IdKind::Subscription | IdKind::User => ServiceKind::Accounts,
        IdKind::Purge | IdKind::Hold => ServiceKind::DataPurge,
        IdKind::Operation => ServiceKind::Provisioning,
    };
    owner == callee
}

fn canonical(json: &serde_json::Value, sent: &str) -> serde_json::Value {
    use serde_json::Value as Json;
    // Every UUID alike, the one sent included: an accepted request's answer may name the id it was
    // given next to ids it created.
    match json {
        Json::String(text) if uuid::Uuid::parse_str(text).is_ok() => {
            Json::String("<uuid>".to_owned())
        }
        Json::String(text) if text == sent => Json::String("<sent>".to_owned()),
        Json::String(text) if chrono::DateTime::parse_from_rfc3339(text).is_ok() => {
            Json::String("<time>".to_owned())
        }
        Json::Array(items) => Json::Array(items.iter().map(|item| canonical(item, sent)).collect()),
        Json::Object(fields) => Json::Object(
            fields
                .iter()
                .map(|(key, value)| (key.clone(), canonical(value, sent)))
                .collect(),
        ),
        other => other.clone(),
    }
}

impl Sweep<'_> {
    /// Every (method, id field, tenant-bound caller) the victim has ids for.
    pub(crate) fn targets(&self) -> Vec<Target> {
        let mut targets = Vec::new();
        for method in &self.methods {
            if method.path.ends_with("SandboxService/AdvanceClock") {
                continue;
            }
            for path in base::paths(&method.input) {
                let Some(kind) = id_kind(&path) else { continue };
                if path.len() > 1 && kind == IdKind::PageToken {
                    continue;
                }
                for who in method.tenant_bound_callers(&self.attacker) {
                    if !held_to_tenant_line(&who, kind, method.kind) {
                        continue;
                    }
                    let has_ids = match kind {
                        IdKind::PageToken => self.victim_token(method, &who).is_some(),
                        _ => !self.victim.all(kind).is_empty(),
                    };
                    if has_ids {
                        targets.push(Target {
                            method: method.clone(),
                            path: path.clone(),
                            kind,
                            who,
                        });
                    }
                }
            }
        }
        targets
    }

    fn victim_token(&self, method: &Method, who: &As) -> Option<&String> {
        self.victim
            .page_tokens
            .get(&format!("{}|{}", method.label(), caller_kind(who)))
    }

    /// The victim's page token of every list method, as its own customer and services get them: a
    /// first page of one item, without filters.
    pub(crate) async fn harvest_page_tokens(&mut self) {
        for method in self.methods.clone() {
            let Some(page_size) = method.input.get_field_by_name("page_size") else {
                continue;
            };
            for who in method.tenant_bound_callers(&self.victim) {
                let mut message = DynamicMessage::new(method.input.clone());
                message.set_field(&page_size, Value::U32(1));
                let body = prost::Message::encode_to_vec(&message);
                let answer = self
                    .wire
                    .call(self.stack, &who, method.kind, &method.path, body)
                    .await;
                let token = DynamicMessage::decode(method.output.clone(), answer.body.as_slice())
                    .ok()
                    .and_then(|reply| {
                        reply
                            .get_field_by_name("next_page_token")
                            .and_then(|value| value.as_str().map(str::to_owned))
                    })
                    .filter(|token| !token.is_empty());
                if let Some(token) = token {
                    self.victim
                        .page_tokens
                        .insert(format!("{}|{}", method.label(), caller_kind(&who)), token);
                }
            }
        }
    }

    /// The twin requests of one attempt: `base` with the victim's id, and with a random one, each
    /// with a fresh idempotency key of the same shape.
    fn twins(
        &mut self,
        target: &Target,
        base: &DynamicMessage,
        victim_id: &str,
    ) -> [(DynamicMessage, String); 2] {
        let random = target.kind.random(&mut self.rng, victim_id);
        [victim_id.to_owned(), random].map(|id| {
            let mut message = base.clone();
            if let Some(key) = target.method.input.get_field_by_name("idempotency_key") {
                let fresh = format!(
                    "sweep-{}-{}",
                    self.rng.alphanumeric(10),
                    self.rng.alphanumeric(8)
                );
                message.set_field(&key, Value::String(fresh));
            }
            let value = Value::String(id.clone());
            let field = target.path.last().expect("an id field");
            base::put(
                &mut message,
                &target.path,
                Some(if field.is_list() {
                    Value::List(vec![value])
                } else {
                    value
                }),
            );
            (message, id)
        })
    }

    /// The base of a target's attempts: the attacker's valid-looking request (a list method's page
    /// token goes with a filterless first-page request, as the victim's token was issued for).
    fn target_base(&mut self, target: &Target) -> DynamicMessage {
        if target.kind == IdKind::PageToken {
            let mut message = DynamicMessage::new(target.method.input.clone());
            message.set_field_by_name("page_size", Value::U32(1));
            return message;
        }
        self.attacker_base(&target.method, &target.path)
    }

    /// The cross-tenant sweep, until `budget` attempts were made: reads first, then requests that
    /// change state, then reads again with the victim ids no accepted change has touched.
    ///
    /// An accepted change can leave objects that name the victim's id (the attacker's own order
    /// for the victim's account, which then fails because the registry gives each account to one
    /// tenant, as designed: TNR213): a later request with that id would meet them, and one with a
    /// fresh random id would not. Such an id is spent: the sweep sends it nowhere again.
    pub(crate) async fn cross_tenant(&mut self, budget: u64) {
        let (reads, writes): (Vec<Target>, Vec<Target>) = self
            .targets()
            .into_iter()
            .partition(|target| !target.method.mutating());
        assert!(
            !reads.is_empty() && !writes.is_empty(),
            "no method takes an id of the victim"
        );
        self.rounds(&reads, budget / 2, CONCURRENCY).await;
        self.rounds(&writes, budget, 1).await;
        self.rounds(&reads, budget, CONCURRENCY).await;
    }

    /// Rounds over `targets` and the victim ids not spent, on the plain base the first time round
    /// and with other fields spoiled the same way in both twins after that, until the attempts reach
    /// `until` or no id is left. `concurrency` 1 sends each pair after the one before: requests that
    /// change state meet the world as the pair before left it.
    async fn rounds(&mut self, targets: &[Target], until: u64, concurrency: usize) {
        let mut round = 0;
        while self.figures.cross_tenant < until {
            let mut attempts = Vec::new();
            for (index, target) in targets.iter().enumerate() {
                let ids: Vec<String> = match target.kind {
                    IdKind::PageToken => self
                        .victim_token(&target.method, &target.who)
                        .cloned()
                        .into_iter()
                        .collect(),
                    kind => self.victim.all(kind).to_vec(),
                };
                for victim_id in ids {
                    if self.spent.contains(&victim_id) {
                        continue;
                    }
                    let mut base = self.target_base(target);
                    if round > 0 {
                        self.spoil_others(&mut base, target);
                    }
                    let [(victim, _), (random, random_id)] = self.twins(target, &base, &victim_id);
                    let victim_first = (attempts.len() + round) % 2 == 0;
                    attempts.push(Attempt {
                        target: index,
                        victim_first,
                        victim_id,
                        random_id,
                        victim: prost::Message::encode_to_vec(&victim),
                        random: prost::Message::encode_to_vec(&random),
                    });
                }
            }
            if attempts.is_empty() {
                return;
            }
            let (stack, wire) = (self.stack, &self.wire);
            let answered: Vec<(Attempt, Answer, Answer)> =
                futures::stream::iter(attempts.into_iter().map(|attempt| async move {
                    let target = &targets[attempt.target];
                    let (who, kind, path) = (&target.who, target.method.kind, &target.method.path);
                    let send = |body: &Vec<u8>| wire.call(stack, who, kind, path, body.clone());
                    // The twins go one after the other, in alternating order.
                    let (victim, random) = if attempt.victim_first {
                        let victim = send(&attempt.victim).await;
                        (victim, send(&attempt.random).await)
                    } else {
                        let random = send(&attempt.random).await;
                        (send(&attempt.victim).await, random)
                    };
                    (attempt, victim, random)
                }))
                .buffered(concurrency)
                .collect()
                .await;
            for (attempt, victim, random) in answered {
                let target = &targets[attempt.target];
                self.judge(target, &attempt, &victim, &random);
                if target.method.mutating() && victim.code == Code::Ok {
                    self.spent.insert(attempt.victim_id.clone());
                }
            }
            round += 1;
            self.progress(&format!(
                "cross-tenant round {round} over {} targets: {} attempts",
                targets.len(),
                self.figures.cross_tenant
            ));
        }
    }

    /// Spoils one or two fields other than the id with corpus values.
    fn spoil_others(&mut self, base: &mut DynamicMessage, target: &Target) {
        let paths: Vec<Path> = base::paths(&target.method.input)
            .into_iter()
            .filter(|path| {
                path.first().map(prost_reflect::FieldDescriptor::name) != Some("idempotency_key")
                    && !path.starts_with(&target.path)
                    && !target.path.starts_with(path)
            })
            .collect();
        if paths.is_empty() {
            return;
        }
        for _ in 0..=self.rng.index(2) {
            let path = self.rng.pick(&paths).clone();
            let Some(field) = path.last() else { continue };
            let valid =
                base::get(base, &path).unwrap_or_else(|| Value::default_value_for_field(field));
            let corpus = if field.is_list() {
                values::repeated(field, valid.as_list().unwrap_or_default())
            } else {
                values::corpus(field, &valid, self.now)
            };
            if corpus.is_empty() {
                continue;
            }
            base::put(base, &path, self.rng.pick(&corpus).value.clone());
        }
    }

    /// One attempt: both twins, compared; an accepted victim twin that shows the victim's data is a
    /// leak.
    fn judge(&mut self, target: &Target, attempt: &Attempt, victim: &Answer, random: &Answer) {
        let method = &target.method;
        let label = format!(
            "{} {} as {}",
            method.label(),
            dotted(&target.path),
            caller_kind(&target.who)
        );
        self.figures.cross_tenant += 1;
        *self
            .figures
            .cross_tenant_by_method
            .entry(method.label())
            .or_insert(0) += 1;
        for answer in [victim, random] {
            if matches!(answer.code, Code::Internal | Code::Unknown) {
                self.figures.internal += 1;
                self.figures
                    .finding("INTERNAL", format!("{label}: {}", answer.message));
            }
        }
        // A request that changes state and was accepted may change what its twin meets (a second
        // offboarding of the same account is refused while the first runs): when only the twin sent
        // first was accepted, the pair tells nothing; the next pair goes the other way round.
        let first_accepted = if attempt.victim_first { victim } else { random };
        let only_first_accepted = method.mutating()
            && first_accepted.code == Code::Ok
            && (victim.code == Code::Ok) != (random.code == Code::Ok);
        if only_first_accepted {
            self.figures.state_changed_pairs += 1;
        } else if let Some(difference) = difference(
            &comparable(victim, &attempt.victim_id, &method.output),
            &comparable(random, &attempt.random_id, &method.output),
        ) {
            self.figures.oracles += 1;
            self.figures
                .finding("oracle difference", format!("{label}: {difference}"));
        }
        // The victim's data in the answer to its id, and not in the answer to a random one (the
        // attacker's own objects may name the victim's ids it typed in itself).
        if victim.code == Code::Ok {
            let victim_text = String::from_utf8_lossy(&victim.body).replace(&attempt.victim_id, "");
            let random_text = String::from_utf8_lossy(&random.body);
            if let Some(marker) = self.victim.markers.iter().find(|marker| {
                victim_text.contains(marker.as_str()) && !random_text.contains(marker.as_str())
            }) {
                self.figures.leaks += 1;
                self.figures
                    .finding("leak", format!("{label}: the answer carries {marker:?}"));
            }
        }
    }
}

/// One cross-tenant attempt: the twin requests, encoded.
struct Attempt {
    target: usize,
    /// Which twin goes first: alternating, so that a pair whose first request changed what the
    /// second meets is seen both ways round.
    victim_first: bool,
    victim_id: String,
    random_id: String,
    victim: Vec<u8>,
    random: Vec<u8>,
}

/// The caller's kind, for labels and page-token keys: the attacker's and the victim's customers are
/// the same kind of caller.
pub(crate) fn caller_kind(who: &As) -> &'static str {
    match who {
        As::User(..) | As::Customer(_) => "customer",
        As::Orders(_) => "orders",
        As::Purger(_) => "data-purge",
        As::Operator | As::LegalOperator => "operator",
        As::Billing => "billing",
    }
}

fn dotted(path: &Path) -> String {
    path.iter()
        .map(prost_reflect::FieldDescriptor::name)
        .collect::<Vec<_>>()
        .join(".")
}
