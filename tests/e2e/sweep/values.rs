//! Malformed values by field type, and the seeded generator that makes every run reproducible.
//!
//! The fixed corpus per type comes first (quality.md §2 and S14–S16: empty, one character, 10,000
//! characters, non-ASCII, control characters, leading and trailing spaces, near-valid ids, 11- and
//! 13-digit account ids, Arabic-Indic digits; zero, -1 and the maximum; out-of-range enum numbers;
//! 1970, 2019, 9999 and negative nanos); random values drawn from the seed fill the rest of the budget.

use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, Value};
use uuid::Uuid;

/// SplitMix64: tiny, fast and the same on every platform and release, so a seed names one run.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound` > 0).
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }

    pub(crate) fn index(&mut self, len: usize) -> usize {
        usize::try_from(self.below(u64::try_from(len).unwrap_or(u64::MAX))).unwrap_or(0)
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub(crate) fn uuid(&mut self) -> Uuid {
        let bytes = (u128::from(self.next_u64()) << 64) | u128::from(self.next_u64());
        uuid::Builder::from_random_bytes(bytes.to_be_bytes()).into_uuid()
    }

    pub(crate) fn alphanumeric(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..len).map(|_| char::from(*self.pick(ALPHABET))).collect()
    }

    /// A random string as long as `like`, over the characters `like` uses (a page token's shape).
    pub(crate) fn same_alphabet(&mut self, like: &str) -> String {
        let alphabet: Vec<char> = like.chars().collect();
        if alphabet.is_empty() {
            return String::new();
        }
        (0..alphabet.len()).map(|_| *self.pick(&alphabet)).collect()
    }

    /// A random string from pools that parsers get wrong: digits of several scripts, hex, letters of
    /// both cases, punctuation ids use, whitespace and control characters, and wide characters.
    pub(crate) fn string(&mut self) -> String {
        const POOLS: &[&str] = &[
            "0123456789",
            "0123456789abcdef-",
            "ABCDEFabcdef0123456789-{}",
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
            "@.-_+%&'\"()<>[]:;,\\|/ ",
            " \t\n\r\u{0}\u{7f}\u{85}\u{a0}\u{200b}\u{202e}\u{feff}",
            "٠١٢٣٤٥٦٧٨٩０１２３４５６７８９",
            "éßø中文🙂\u{301}",
        ];
        let len = match self.below(6) {
            0 => self.index(4),
            1 => 12,
            2 => 36,
            3 => 5 + self.index(60),
            4 => 60 + self.index(600),
            _ => self.index(20),
        };
        let mixed = self.chance(30);
        let mut pool: Vec<char> = self.pick(POOLS).chars().collect();
        (0..len)
            .map(|_| {
                if mixed {
                    pool = self.pick(POOLS).chars().collect();
                }
                *self.pick(&pool)
            })
            .collect()
    }
}

/// One way to spoil a field: a name for the histogram and the value it sets (None clears it).
#[derive(Debug, Clone)]
pub(crate) struct Mutation {
    pub(crate) label: String,
    pub(crate) value: Option<Value>,
}

fn set(label: impl Into<String>, value: Value) -> Mutation {
    Mutation {
        label: label.into(),
        value: Some(value),
    }
}

/// Spellings of `valid` that must be refused, by the shape of the valid value.
pub(crate) fn near_valid(valid: &str) -> Vec<(String, String)> {
    let mut near = Vec::new();
    if let Ok(id) = Uuid::try_parse(valid)
        && id.hyphenated().to_string() == valid
    {
        near.extend([
            ("uuid upper-case", valid.to_uppercase()),
            ("uuid braced", format!("{{{valid}}}")),
            ("uuid unhyphenated", id.simple().to_string()),
            ("uuid urn", id.urn().to_string()),
            ("uuid newline", format!("{valid}\n")),
            ("uuid short", valid[..35].to_owned()),
            ("uuid nil", Uuid::nil().to_string()),
        ]);
    }
    if valid.len() == 12 && valid.bytes().all(|byte| byte.is_ascii_digit()) {
        near.extend([
            ("account 11 digits", valid[..11].to_owned()),
            ("account 13 digits", format!("{valid}0")),
            ("account letter", format!("{}a", &valid[..11])),
            ("account arabic-indic", "٠١٢٣٤٥٦٧٨٩٠١".to_owned()),
            ("account fullwidth", "０１２３４５６７８９０１".to_owned()),
            ("account newline", format!("{valid}\n")),
            (
                "account as number",
                valid.trim_start_matches('0').to_owned(),
            ),
        ]);
    }
    if valid.contains('@') {
        near.extend([
            ("email 5 chars", "a@b.c".to_owned()),
            ("email 65 chars", format!("{}@example.com", "a".repeat(53))),
            ("email two @", "a@b@example.com".to_owned()),
            ("email leading dot", ".a@example.com".to_owned()),
            ("email domain hyphen", "a@-example.com".to_owned()),
            ("email no dot", "a@example".to_owned()),
            ("email parentheses", "a(b)@example.com".to_owned()),
            ("email non-ascii", "ä@example.com".to_owned()),
            ("email trailing dot", "a@example.com.".to_owned()),
        ]);
    }
    near.into_iter()
        .map(|(label, value)| (label.to_owned(), value))
        .collect()
}

/// The fixed corpus for a string field whose valid value is `valid`.
fn strings(valid: &str) -> Vec<Mutation> {
    let mut corpus = vec![
        set("empty", Value::String(String::new())),
        set("one char", Value::String("a".to_owned())),
        set("10k chars", Value::String("x".repeat(10_000))),
        set("non-ascii", Value::String(format!("{valid}é"))),
        set("rtl override", Value::String(format!("\u{202e}{valid}"))),
        set("nul", Value::String(format!("{valid}\u{0}"))),
        set("tab", Value::String("\t".to_owned())),
        set("newline", Value::String(format!("{valid}\n"))),
        set("leading space", Value::String(format!(" {valid}"))),
        set("trailing space", Value::String(format!("{valid} "))),
        set("like wildcard", Value::String("%".to_owned())),
        set("quote", Value::String("' OR '1'='1".to_owned())),
        set(
            "arabic-indic digits",
            Value::String("٠١٢٣٤٥٦٧٨٩٠١".to_owned()),
        ),
        set("11 digits", Value::String("01234567890".to_owned())),
        set("13 digits", Value::String("0123456789012".to_owned())),
        set(
            "uuid upper-case",
            Value::String("3F0C8A53-8D1B-4F59-9A2E-0C5A3B0F5E11".to_owned()),
        ),
    ];
    for (label, value) in near_valid(valid) {
        corpus.push(set(label, Value::String(value)));
    }
    corpus
}

fn integers(kind: &Kind) -> Vec<Mutation> {
    match kind {
        Kind::Uint32 | Kind::Fixed32 => vec![
            set("zero", Value::U32(0)),
            set("101", Value::U32(101)),
            set("max", Value::U32(u32::MAX)),
        ],
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => vec![
            set("zero", Value::I32(0)),
            set("minus one", Value::I32(-1)),
            set("max", Value::I32(i32::MAX)),
            set("min", Value::I32(i32::MIN)),
        ],
        Kind::Uint64 | Kind::Fixed64 => {
            vec![set("zero", Value::U64(0)), set("max", Value::U64(u64::MAX))]
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => vec![
            set("zero", Value::I64(0)),
            set("minus one", Value::I64(-1)),
            set("max", Value::I64(i64::MAX)),
            set("min", Value::I64(i64::MIN)),
        ],
        Kind::Bool => vec![
            set("false", Value::Bool(false)),
            set("true", Value::Bool(true)),
        ],
        Kind::Enum(descriptor) => {
            let mut corpus = vec![
                set("enum zero", Value::EnumNumber(0)),
                set("enum minus one", Value::EnumNumber(-1)),
                set("enum out of range", Value::EnumNumber(99)),
                set("enum max", Value::EnumNumber(i32::MAX)),
            ];
            // Every defined value too: a valid value the handler did not expect is a path of its own.
            for value in descriptor.values().filter(|value| value.number() != 0) {
                corpus.push(set(
                    format!("enum {}", value.name()),
                    Value::EnumNumber(value.number()),
                ));
            }
            corpus
        }
        _ => Vec::new(),
    }
}

fn timestamp(seconds: i64, nanos: i32) -> Value {
    Value::Message(well_known(
        "google.protobuf.Timestamp",
        &[
            ("seconds", Value::I64(seconds)),
            ("nanos", Value::I32(nanos)),
        ],
    ))
}

fn well_known(name: &str, fields: &[(&str, Value)]) -> DynamicMessage {
    let descriptor = super::catalogue::pool()
        .get_message_by_name(name)
        .expect("a well-known type the contracts import");
    let mut message = DynamicMessage::new(descriptor);
    for (field, value) in fields {
        message.set_field_by_name(field, value.clone());
    }
    message
}

/// The fixed corpus of a message-typed field: missing, empty, and for the well-known types the
/// values out of range.
fn messages(descriptor: &MessageDescriptor, now: i64) -> Vec<Mutation> {
    let mut corpus = vec![
        Mutation {
            label: "missing".to_owned(),
            value: None,
        },
        set(
            "empty message",
            Value::Message(DynamicMessage::new(descriptor.clone())),
        ),
    ];
    match descriptor.full_name() {
        "google.protobuf.Timestamp" => corpus.extend([
            set("1970", timestamp(0, 0)),
            set("2019", timestamp(1_577_836_799, 0)),
            set("9999", timestamp(253_402_300_799, 0)),
            set("year 10000+", timestamp(253_402_300_800, 0)),
            set("seconds max", timestamp(i64::MAX, 0)),
            set("seconds min", timestamp(i64::MIN, 0)),
            set("negative nanos", timestamp(now, -1)),
            set("nanos over a second", timestamp(now, 1_000_000_000)),
            set("401 days ahead", timestamp(now + 401 * 86_400, 0)),
        ]),
        "google.protobuf.Duration" => corpus.extend([
            set("negative", duration(-60, 0)),
            set("negative nanos", duration(1, -1)),
            set("nanos over a second", duration(0, 1_000_000_000)),
            set("seconds max", duration(i64::MAX, 0)),
            set("a century", duration(100 * 365 * 86_400, 0)),
        ]),
        _ => {}
    }
    corpus
}

fn duration(seconds: i64, nanos: i32) -> Value {
    Value::Message(well_known(
        "google.protobuf.Duration",
        &[
            ("seconds", Value::I64(seconds)),
            ("nanos", Value::I32(nanos)),
        ],
    ))
}

/// The fixed corpus for one singular field whose valid value is `valid`.
pub(crate) fn corpus(field: &FieldDescriptor, valid: &Value, now: i64) -> Vec<Mutation> {
    match field.kind() {
        Kind::String => strings(valid.as_str().unwrap_or_default()),
        Kind::Message(descriptor) => messages(&descriptor, now),
        Kind::Bytes => vec![
            set("empty", Value::Bytes(Vec::new().into())),
            set("garbage", Value::Bytes(vec![0xff; 64].into())),
        ],
        Kind::Double | Kind::Float => Vec::new(),
        other => integers(&other),
    }
}

/// The fixed corpus of a repeated field whose valid list is `valid` (at least one element).
pub(crate) fn repeated(field: &FieldDescriptor, valid: &[Value]) -> Vec<Mutation> {
    let Some(first) = valid.first() else {
        return Vec::new();
    };
    // As many elements as fit well below the 1 MiB message limit, so the handler sees them.
    let huge = match field.kind() {
        Kind::Message(_) => 2_000,
        _ => 10_000,
    };
    vec![
        set("empty list", Value::List(Vec::new())),
        set(
            "duplicates",
            Value::List(vec![first.clone(), first.clone()]),
        ),
        set("huge count", Value::List(vec![first.clone(); huge])),
    ]
}

/// A random value of `field`'s type (one element of a repeated field).
pub(crate) fn random(rng: &mut Rng, field: &FieldDescriptor, now: i64) -> Option<Value> {
    Some(match field.kind() {
        Kind::String => Value::String(rng.string()),
        Kind::Bool => Value::Bool(rng.chance(50)),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(match rng.below(3) {
            0 => u32::try_from(rng.below(200)).unwrap_or(0),
            1 => u32::MAX - u32::try_from(rng.below(3)).unwrap_or(0),
            _ => u32::try_from(rng.below(u64::from(u32::MAX))).unwrap_or(0),
        }),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            Value::I32(i32::try_from(rng.below(1 << 16)).unwrap_or(0) - (1 << 15))
        }
        Kind::Uint64 | Kind::Fixed64 => Value::U64(rng.next_u64() >> rng.below(64)),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(i64::from_ne_bytes(
            (rng.next_u64() >> rng.below(64)).to_ne_bytes(),
        )),
        Kind::Enum(descriptor) => {
            let defined: Vec<i32> = descriptor.values().map(|value| value.number()).collect();
            Value::EnumNumber(if rng.chance(70) {
                *rng.pick(&defined)
            } else {
                i32::try_from(rng.below(1_000)).unwrap_or(0) - 500
            })
        }
        Kind::Message(descriptor) => match descriptor.full_name() {
            "google.protobuf.Timestamp" => {
                let spread = 40 * 365 * 86_400;
                let seconds = match rng.below(4) {
                    0 => now - i64::try_from(rng.below(spread)).unwrap_or(0),
                    1 => now + i64::try_from(rng.below(spread)).unwrap_or(0),
                    2 => i64::from_ne_bytes(rng.next_u64().to_ne_bytes()),
                    _ => now,
                };
                let nanos = match rng.below(4) {
                    0 => -1,
                    1 => 1_000_000_000 + i32::try_from(rng.below(1_000)).unwrap_or(0),
                    _ => i32::try_from(rng.below(1_000_000_000)).unwrap_or(0),
                };
                timestamp(seconds, nanos)
            }
            "google.protobuf.Duration" => duration(
                i64::try_from(rng.below(1 << 40)).unwrap_or(0) - (1 << 39),
                i32::try_from(rng.below(2_000_000_000)).unwrap_or(0) - 1_000_000_000,
            ),
            _ => return None,
        },
        Kind::Bytes | Kind::Double | Kind::Float => return None,
    })
}
