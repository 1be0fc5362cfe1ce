//! How the client prints answers: proto3 JSON with `--json`, else aligned key-value blocks and tables
//! built from the messages' descriptors, so every message prints alike without a formatter of its own.

use anyhow::Context as _;
use prost_reflect::{DynamicMessage, Kind, MapKey, ReflectMessage as _, Value};

use super::money;
use super::proto::{Proto, enum_label};
use crate::output;

/// What a table cell shows for an empty value.
const EMPTY: &str = "-";

/// Prints answers as JSON or for people.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Printer {
    json: bool,
}

impl Printer {
    /// JSON when `json`, else text.
    pub(crate) fn new(json: bool) -> Self {
        Self { json }
    }

    /// Whether the output is JSON.
    pub(crate) fn is_json(self) -> bool {
        self.json
    }

    /// One message: a JSON object, or a key-value block followed by a table per repeated message.
    pub(crate) fn show<M: Proto>(self, message: &M) -> anyhow::Result<()> {
        if self.json {
            return self.json_line(message);
        }
        let flat = Flat::of(&message.dynamic()?);
        let mut text = key_values(&flat.scalars);
        for (name, rows) in &flat.lists {
            text.push_str(&format!("\n{name}:\n"));
            text.push_str(&indent(&table(rows, None)));
        }
        write(&text)
    }

    /// A list answer: the whole response as JSON, or its `rows` field as a table of `columns`
    /// (dotted paths such as `scope.aws_account_id`), then how to read the next page.
    pub(crate) fn list<M: Proto>(
        self,
        response: &M,
        rows: &str,
        columns: &[&str],
    ) -> anyhow::Result<()> {
        if self.json {
            return self.json_line(response);
        }
        let message = response.dynamic()?;
        let field = message
            .descriptor()
            .get_field_by_name(rows)
            .with_context(|| format!("{} has no field {rows}", M::NAME))?;
        let flattened: Vec<Row> = match message.get_field(&field).as_ref() {
            Value::List(items) => items
                .iter()
                .filter_map(Value::as_message)
                .map(Flat::row)
                .collect(),
            _ => Vec::new(),
        };
        write(&page(&message, rows, &flattened, columns))
    }

    /// A list answer whose rows the caller flattened, to add columns the messages do not hold as
    /// such: the whole response as JSON, or `flattened` as a table of `columns`, then how to read the
    /// next page.
    pub(crate) fn list_rows<M: Proto>(
        self,
        response: &M,
        rows: &str,
        flattened: &[Row],
        columns: &[&str],
    ) -> anyhow::Result<()> {
        if self.json {
            return self.json_line(response);
        }
        write(&page(&response.dynamic()?, rows, flattened, columns))
    }

    /// One message as a JSON line, whatever the mode: the unit of a stream.
    pub(crate) fn json_line<M: Proto>(self, message: &M) -> anyhow::Result<()> {
        output::json_line(&message.to_json()?).context("writing to standard output")
    }

    /// A line of text for people; nothing in JSON mode, where only messages are printed.
    pub(crate) fn note(self, text: &str) -> anyhow::Result<()> {
        if self.json {
            return Ok(());
        }
        write(&format!("{text}\n"))
    }
}

fn write(text: &str) -> anyhow::Result<()> {
    output::write(text).context("writing to standard output")
}

/// One page of a list for people: its rows as a table, or that there are none, then the token of the
/// next page when there is one.
fn page(response: &DynamicMessage, rows: &str, flattened: &[Row], columns: &[&str]) -> String {
    let mut text = if flattened.is_empty() {
        format!("no {rows}\n")
    } else {
        table(flattened, Some(columns))
    };
    if let Some(Value::String(token)) = response.get_field_by_name("next_page_token").as_deref()
        && !token.is_empty()
    {
        text.push_str(&format!("more: --page-token {token}\n"));
    }
    text
}

/// One flattened message: `(dotted name, shown value)` pairs.
pub(crate) type Row = Vec<(String, String)>;

/// A message flattened for display: its set scalar fields under dotted names, and its repeated message
/// fields, each a list of flattened rows.
#[derive(Debug, Default)]
pub(crate) struct Flat {
    /// `(name, shown value)`, in field order.
    pub(crate) scalars: Row,
    /// `(name, rows)` of each repeated message field.
    pub(crate) lists: Vec<(String, Vec<Row>)>,
}

impl Flat {
    /// Flattens `message`, leaving out fields at their default value.
    pub(crate) fn of(message: &DynamicMessage) -> Self {
        let mut flat = Self::default();
        flat.add(message, "", false);
        flat
    }

    /// Flattens `message` as a table row: a count of 0 is a value there, not a gap.
    pub(crate) fn row(message: &DynamicMessage) -> Row {
        let mut flat = Self::default();
        flat.add(message, "", true);
        flat.scalars
    }

    /// The shown value of the dotted field `name`, if set.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.scalars
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn add(&mut self, message: &DynamicMessage, prefix: &str, zero_counts: bool) {
        for field in message.descriptor().fields() {
            let count = !field.is_list()
                && matches!(
                    field.kind(),
                    Kind::Int32 | Kind::Int64 | Kind::Uint32 | Kind::Uint64
                );
            if !(message.has_field(&field) || zero_counts && count) {
                continue;
            }
            let name = format!("{prefix}{}", field.name());
            let kind = field.kind();
            match message.get_field(&field).as_ref() {
                Value::List(items) => {
                    let rows: Vec<Row> = items
                        .iter()
                        .filter_map(Value::as_message)
                        .filter(|item| !is_well_known(item))
                        .map(Self::row)
                        .collect();
                    if rows.is_empty() {
                        let shown: Vec<String> =
                            items.iter().map(|item| scalar(item, &kind)).collect();
                        self.scalars.push((name, shown.join(", ")));
                    } else {
                        self.lists.push((name, rows));
                    }
                }
                Value::Message(nested) if !is_well_known(nested) => {
                    self.add(nested, &format!("{name}."), zero_counts);
                }
                value => self.scalars.push((name, scalar(value, &kind))),
            }
        }
    }
}

/// Timestamps, durations and amounts of money print as one value, not as their fields.
fn is_well_known(message: &DynamicMessage) -> bool {
    matches!(
        message.descriptor().full_name(),
        "google.protobuf.Timestamp" | "google.protobuf.Duration" | MONEY
    )
}

/// `tenure.common.v1.Money`, shown as `123.45 USD`.
const MONEY: &str = "tenure.common.v1.Money";

/// One value as people read it: enum names, RFC 3339 times, durations in seconds.
fn scalar(value: &Value, kind: &Kind) -> String {
    match value {
        Value::Bool(flag) => flag.to_string(),
        Value::I32(number) => number.to_string(),
        Value::I64(number) => number.to_string(),
        Value::U32(number) => number.to_string(),
        Value::U64(number) => number.to_string(),
        Value::F32(number) => number.to_string(),
        Value::F64(number) => number.to_string(),
        Value::String(text) => text.clone(),
        Value::Bytes(bytes) => format!("<{} bytes>", bytes.len()),
        Value::EnumNumber(number) => match kind {
            Kind::Enum(descriptor) => enum_label(descriptor, *number),
            _ => number.to_string(),
        },
        Value::Message(message) => well_known(message),
        Value::List(items) => items
            .iter()
            .map(|item| scalar(item, kind))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Map(entries) => {
            let mut shown: Vec<String> = entries
                .iter()
                .map(|(key, value)| format!("{}={}", map_key(key), scalar(value, kind)))
                .collect();
            shown.sort();
            shown.join(", ")
        }
    }
}

fn map_key(key: &MapKey) -> String {
    match key {
        MapKey::Bool(flag) => flag.to_string(),
        MapKey::I32(number) => number.to_string(),
        MapKey::I64(number) => number.to_string(),
        MapKey::U32(number) => number.to_string(),
        MapKey::U64(number) => number.to_string(),
        MapKey::String(text) => text.clone(),
    }
}

/// A timestamp, a duration or an amount; any other message as its flattened fields on one line.
fn well_known(message: &DynamicMessage) -> String {
    let number = |name: &str| -> i64 {
        match message.get_field_by_name(name).as_deref() {
            Some(Value::I64(value)) => *value,
            Some(Value::I32(value)) => i64::from(*value),
            _ => 0,
        }
    };
    match message.descriptor().full_name() {
        "google.protobuf.Timestamp" => prost_types::Timestamp {
            seconds: number("seconds"),
            nanos: i32::try_from(number("nanos")).unwrap_or(0),
        }
        .to_string(),
        "google.protobuf.Duration" => format!("{}s", number("seconds")),
        MONEY => {
            let currency = match message.get_field_by_name("currency_code").as_deref() {
                Some(Value::String(code)) => code.clone(),
                _ => String::new(),
            };
            // Without a currency the amount stands alone, with no trailing space.
            money::display(number("amount_micros"), &currency)
                .trim_end()
                .to_owned()
        }
        _ => Flat::of(message)
            .scalars
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// `name  value` lines with the values aligned.
pub(crate) fn key_values(pairs: &[(String, String)]) -> String {
    let width = pairs
        .iter()
        .map(|(key, _)| key.chars().count())
        .max()
        .unwrap_or(0);
    pairs
        .iter()
        .map(|(key, value)| format!("{key:<width$}  {value}\n"))
        .collect()
}

/// An aligned table of `rows`: the given columns, or every column any row has, in first-seen order.
pub(crate) fn table(rows: &[Row], columns: Option<&[&str]>) -> String {
    let columns: Vec<String> = match columns {
        Some(columns) => columns.iter().map(|column| (*column).to_owned()).collect(),
        None => {
            let mut seen: Vec<String> = Vec::new();
            for (key, _) in rows.iter().flatten() {
                if !seen.contains(key) {
                    seen.push(key.clone());
                }
            }
            seen
        }
    };
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|column| {
                    row.iter()
                        .find(|(key, _)| key == column)
                        .map_or_else(|| EMPTY.to_owned(), |(_, value)| value.clone())
                })
                .collect()
        })
        .collect();
    let headers: Vec<String> = columns
        .iter()
        .map(|column| column.to_ascii_uppercase())
        .collect();
    let widths: Vec<usize> = (0..columns.len())
        .map(|index| {
            std::iter::once(&headers)
                .chain(&cells)
                .map(|row| row[index].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    std::iter::once(&headers)
        .chain(&cells)
        .map(|row| {
            let line: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            format!("{}\n", line.join("  ").trim_end())
        })
        .collect()
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("  {line}\n")).collect()
}

#[cfg(test)]
mod tests {
    use tenure_proto::orders::v1 as pb;

    use super::*;

    #[test]
    fn a_message_flattens_to_enum_names_times_and_dotted_oneof_fields() {
        let order = pb::Order {
            id: "o-1".to_owned(),
            status: pb::OrderStatus::Completed as i32,
            details: Some(pb::order::Details::NewAccount(pb::NewAccountOrder {
                root_email: "a@example.com".to_owned(),
                ..pb::NewAccountOrder::default()
            })),
            created_at: Some(prost_types::Timestamp {
                seconds: 0,
                nanos: 0,
            }),
            ..pb::Order::default()
        };
        let flat = Flat::of(&order.dynamic().expect("dynamic"));
        assert_eq!(flat.get("id"), Some("o-1"));
        assert_eq!(flat.get("status"), Some("ORDER_STATUS_COMPLETED"));
        assert_eq!(flat.get("new_account.root_email"), Some("a@example.com"));
        assert_eq!(flat.get("created_at"), Some("1970-01-01T00:00:00Z"));
        // Defaults are left out for people.
        assert_eq!(flat.get("aws_account_id"), None);
    }

    #[test]
    fn an_amount_of_money_is_one_value() {
        let order = pb::Order {
            details: Some(pb::order::Details::Terminate(pb::TerminateOrder {
                acknowledged_open_balance: Some(money::money(-1_500_000, "EUR".to_owned())),
                ..pb::TerminateOrder::default()
            })),
            ..pb::Order::default()
        };
        let flat = Flat::of(&order.dynamic().expect("dynamic"));
        assert_eq!(
            flat.get("terminate.acknowledged_open_balance"),
            Some("-1.50 EUR")
        );
    }

    #[test]
    fn tables_align_and_fill_gaps() {
        let rows = vec![
            vec![
                ("id".to_owned(), "1".to_owned()),
                ("state".to_owned(), "OPEN".to_owned()),
            ],
            vec![("id".to_owned(), "22".to_owned())],
        ];
        assert_eq!(
            table(&rows, Some(&["id", "state"])),
            "ID  STATE\n1   OPEN\n22  -\n"
        );
        assert_eq!(
            key_values(&[
                ("a".to_owned(), "1".to_owned()),
                ("long".to_owned(), "2".to_owned())
            ]),
            "a     1\nlong  2\n"
        );
    }
}
