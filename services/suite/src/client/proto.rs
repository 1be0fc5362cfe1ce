//! The contracts' descriptors at run time: which prost type is which protobuf message, enum values
//! as names on the command line and in output, and the canonical proto3 JSON of any message.

use std::sync::OnceLock;

use anyhow::Context as _;
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::error::ErrorKind;
use prost_reflect::{
    DescriptorPool, DynamicMessage, EnumDescriptor, EnumValueDescriptor, SerializeOptions,
};
use tenure_proto::accounts::v1 as accounts;
use tenure_proto::orders::v1 as orders;
use tenure_proto::provisioning::v1 as prov;
use tenure_proto::purge::v1 as purge;

/// Every Tenure message and its imports, decoded once.
pub(crate) fn pool() -> anyhow::Result<&'static DescriptorPool> {
    static POOL: OnceLock<Result<DescriptorPool, String>> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(tenure_proto::FILE_DESCRIPTOR_SET).map_err(|error| error.to_string())
    })
    .as_ref()
    .map_err(|error| anyhow::anyhow!("decoding the contracts' descriptors: {error}"))
}

/// A generated message and its protobuf full name. prost generates no names here, and output needs
/// them to find the descriptor; the `names_resolve` test proves each one exists.
pub(crate) trait Proto: prost::Message + Sized {
    /// The protobuf full name, e.g. `tenure.orders.v1.Order`.
    const NAME: &'static str;

    /// The message as a reflective value, for walking its fields.
    fn dynamic(&self) -> anyhow::Result<DynamicMessage> {
        let descriptor = pool()?
            .get_message_by_name(Self::NAME)
            .with_context(|| format!("no descriptor for {}", Self::NAME))?;
        DynamicMessage::decode(descriptor, self.encode_to_vec().as_slice())
            .with_context(|| format!("re-reading a {}", Self::NAME))
    }

    /// The canonical proto3 JSON mapping with the `.proto` field names, enum values as names, and
    /// every field present, so that scripts can rely on each key.
    fn to_json(&self) -> anyhow::Result<serde_json::Value> {
        let options = SerializeOptions::new()
            .use_proto_field_name(true)
            .skip_default_fields(false)
            .stringify_64_bit_integers(false);
        self.dynamic()?
            .serialize_with_options(serde_json::value::Serializer, &options)
            .with_context(|| format!("writing a {} as JSON", Self::NAME))
    }
}

macro_rules! proto_names {
    ($($ty:ty => $name:literal,)*) => {
        $(impl Proto for $ty {
            const NAME: &'static str = $name;
        })*

        /// Every name given above.
        #[cfg(test)]
        fn named_types() -> Vec<&'static str> {
            vec![$($name),*]
        }
    };
}

proto_names! {
    orders::Order => "tenure.orders.v1.Order",
    orders::Task => "tenure.orders.v1.Task",
    orders::OrderStep => "tenure.orders.v1.OrderStep",
    orders::OrderEvent => "tenure.orders.v1.OrderEvent",
    orders::ListOrdersResponse => "tenure.orders.v1.ListOrdersResponse",
    orders::GetOrderTimelineResponse => "tenure.orders.v1.GetOrderTimelineResponse",
    orders::WatchOrderResponse => "tenure.orders.v1.WatchOrderResponse",
    orders::ListTasksResponse => "tenure.orders.v1.ListTasksResponse",
    orders::Saga => "tenure.orders.v1.Saga",
    orders::ListSagasResponse => "tenure.orders.v1.ListSagasResponse",
    accounts::Tenant => "tenure.accounts.v1.Tenant",
    accounts::User => "tenure.accounts.v1.User",
    accounts::AwsAccount => "tenure.accounts.v1.AwsAccount",
    accounts::CreateTenantResponse => "tenure.accounts.v1.CreateTenantResponse",
    accounts::ListTenantsResponse => "tenure.accounts.v1.ListTenantsResponse",
    accounts::UnsubscribeTenantResponse => "tenure.accounts.v1.UnsubscribeTenantResponse",
    accounts::ListUsersResponse => "tenure.accounts.v1.ListUsersResponse",
    accounts::ListAccountsResponse => "tenure.accounts.v1.ListAccountsResponse",
    accounts::CheckTerminationResponse => "tenure.accounts.v1.CheckTerminationResponse",
    accounts::ReportOpenBalancesResponse => "tenure.accounts.v1.ReportOpenBalancesResponse",
    accounts::Subscription => "tenure.accounts.v1.Subscription",
    accounts::ListSubscriptionsResponse => "tenure.accounts.v1.ListSubscriptionsResponse",
    purge::Purge => "tenure.purge.v1.Purge",
    purge::PurgePlan => "tenure.purge.v1.PurgePlan",
    purge::LegalHold => "tenure.purge.v1.LegalHold",
    purge::Receipt => "tenure.purge.v1.Receipt",
    purge::ListPurgesResponse => "tenure.purge.v1.ListPurgesResponse",
    purge::ListLegalHoldsResponse => "tenure.purge.v1.ListLegalHoldsResponse",
    purge::ListReceiptsResponse => "tenure.purge.v1.ListReceiptsResponse",
    purge::VerifyReceiptChainResponse => "tenure.purge.v1.VerifyReceiptChainResponse",
    prov::Handshake => "tenure.provisioning.v1.Handshake",
    prov::Stack => "tenure.provisioning.v1.Stack",
    prov::AccountResult => "tenure.provisioning.v1.AccountResult",
    prov::GetClockResponse => "tenure.provisioning.v1.GetClockResponse",
    prov::AdvanceClockResponse => "tenure.provisioning.v1.AdvanceClockResponse",
}

/// The part of an enum's value names that every value shares: `ORDER_STATUS_` for `OrderStatus`, read
/// off its zero value `ORDER_STATUS_UNSPECIFIED`.
fn value_prefix(descriptor: &EnumDescriptor) -> String {
    descriptor
        .get_value(0)
        .and_then(|zero| zero.name().strip_suffix("UNSPECIFIED").map(str::to_owned))
        .unwrap_or_default()
}

/// How output shows the value `number` of an enum: its proto value name (`ORDER_STATUS_COMPLETED`),
/// the one vocabulary the API, its JSON and the server's messages use.
pub(crate) fn enum_label(descriptor: &EnumDescriptor, number: i32) -> String {
    descriptor
        .get_value(number)
        .map_or_else(|| number.to_string(), |value| value.name().to_owned())
}

/// The leading comment of an enum value in its `.proto` file, on one line: what the value means.
fn value_comment(value: &EnumValueDescriptor) -> String {
    let file = value.parent_file();
    file.file_descriptor_proto()
        .source_code_info
        .as_ref()
        .and_then(|info| {
            info.location
                .iter()
                .find(|location| location.path == value.path())
        })
        .and_then(|location| location.leading_comments.as_deref())
        .map(|comment| comment.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// One value of an enum argument.
#[derive(Debug, Clone)]
struct Choice {
    /// The proto value name, `ACKNOWLEDGEMENT_BACKUP`.
    full: String,
    /// The shorthand: the name without the shared prefix, in kebab case, `backup`.
    short: String,
    /// What the value means, from its proto comment.
    meaning: String,
    number: i32,
}

/// Which spelling help and completion list first; both are always accepted.
#[derive(Debug, Clone, Copy)]
enum Listing {
    /// The shorthand, for operators' filters (`--status completed`).
    Short,
    /// The proto name with its meaning and shorthand, for what a customer confirms.
    Proto,
}

/// A command-line value parser for one enum of the contracts, parsed to the wire number. It accepts
/// the proto value name (`ACKNOWLEDGEMENT_BACKUP`) and the shorthand (`backup`), in any case and with
/// `-` or `_`; the never-valid zero value is left out.
#[derive(Debug, Clone)]
pub(crate) struct EnumArg {
    choices: Vec<Choice>,
    listing: Listing,
}

impl EnumArg {
    fn new(full_name: &str, listing: Listing) -> Self {
        let descriptor = pool()
            .ok()
            .and_then(|pool| pool.get_enum_by_name(full_name));
        let choices = descriptor
            .map(|descriptor| {
                let prefix = value_prefix(&descriptor);
                descriptor
                    .values()
                    .filter(|value| value.number() != 0)
                    .map(|value| Choice {
                        full: value.name().to_owned(),
                        short: value
                            .name()
                            .strip_prefix(prefix.as_str())
                            .unwrap_or(value.name())
                            .to_ascii_lowercase()
                            .replace('_', "-"),
                        meaning: value_comment(&value),
                        number: value.number(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self { choices, listing }
    }

    /// The value `given` names, however it is spelt.
    fn find(&self, given: &str) -> Option<&Choice> {
        let wanted = given.trim().to_ascii_uppercase().replace('-', "_");
        self.choices.iter().find(|choice| {
            choice.full == wanted || choice.short.to_ascii_uppercase().replace('-', "_") == wanted
        })
    }

    fn possible(&self) -> Vec<PossibleValue> {
        self.choices
            .iter()
            .map(|choice| match self.listing {
                Listing::Short => PossibleValue::new(choice.short.clone()),
                Listing::Proto => {
                    let help = if choice.meaning.is_empty() {
                        format!("(shorthand: {})", choice.short)
                    } else {
                        format!("{} (shorthand: {})", choice.meaning, choice.short)
                    };
                    PossibleValue::new(choice.full.clone()).help(help)
                }
            })
            .collect()
    }
}

impl TypedValueParser for EnumArg {
    type Value = i32;

    fn parse_ref(
        &self,
        command: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<i32, clap::Error> {
        if let Some(choice) = value.to_str().and_then(|given| self.find(given)) {
            return Ok(choice.number);
        }
        // clap's own parser words the refusal (the value, the flag, the possible values) as for
        // every other argument; it refuses whatever this parser refused.
        PossibleValuesParser::new(self.possible())
            .parse_ref(command, arg, value)
            .and_then(|_| Err(clap::Error::new(ErrorKind::InvalidValue).with_cmd(command)))
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(self.possible().into_iter()))
    }
}

/// The value parser of an enum filter or setting, listed by shorthand (`--status completed`); the
/// proto value name (`ORDER_STATUS_COMPLETED`) is accepted too.
pub(crate) fn enum_arg(full_name: &'static str) -> EnumArg {
    EnumArg::new(full_name, Listing::Short)
}

/// The value parser of an enum a customer confirms or chooses (`--ack`, `--mode`): help lists each
/// value by its proto name, the name the server's messages use, with what it means and its shorthand.
pub(crate) fn enum_arg_explained(full_name: &'static str) -> EnumArg {
    EnumArg::new(full_name, Listing::Proto)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve() {
        let pool = pool().expect("descriptors");
        for name in named_types() {
            assert!(pool.get_message_by_name(name).is_some(), "{name}");
        }
    }

    #[test]
    fn a_message_round_trips_through_its_descriptor_with_enum_names() {
        let order = orders::Order {
            id: "o-1".to_owned(),
            status: orders::OrderStatus::Querying as i32,
            kind: orders::OrderKind::Terminate as i32,
            created_at: Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            }),
            ..orders::Order::default()
        };
        let json = order.to_json().expect("json");
        assert_eq!(json["id"], "o-1");
        assert_eq!(json["status"], "ORDER_STATUS_QUERYING");
        assert_eq!(json["kind"], "ORDER_KIND_TERMINATE");
        assert_eq!(json["created_at"], "2023-11-14T22:13:20Z");
        // Defaults are written too, so every key is there for scripts.
        assert_eq!(json["aws_account_id"], "");
    }

    #[test]
    fn output_shows_proto_value_names() {
        let descriptor = pool()
            .expect("pool")
            .get_enum_by_name("tenure.orders.v1.OrderStatus")
            .expect("enum");
        assert_eq!(
            enum_label(&descriptor, orders::OrderStatus::Completed as i32),
            "ORDER_STATUS_COMPLETED"
        );
        assert_eq!(enum_label(&descriptor, 99), "99");
    }

    fn parse(parser: &EnumArg, given: &str) -> Result<i32, clap::Error> {
        parser.parse_ref(
            &clap::Command::new("tenure"),
            None,
            std::ffi::OsStr::new(given),
        )
    }

    #[test]
    fn enum_arguments_take_the_proto_name_or_the_shorthand() {
        let wanted = tenure_proto::common::v1::Acknowledgement::EmailNotReusable as i32;
        for parser in [
            enum_arg("tenure.common.v1.Acknowledgement"),
            enum_arg_explained("tenure.common.v1.Acknowledgement"),
        ] {
            for given in [
                "ACKNOWLEDGEMENT_EMAIL_NOT_REUSABLE",
                "acknowledgement_email_not_reusable",
                "email-not-reusable",
                "EMAIL_NOT_REUSABLE",
            ] {
                assert_eq!(parse(&parser, given).ok(), Some(wanted), "{given}");
            }
            for refused in ["ACKNOWLEDGEMENT_UNSPECIFIED", "unspecified", "email", ""] {
                let error = parse(&parser, refused).expect_err(refused);
                assert_eq!(error.kind(), ErrorKind::InvalidValue, "{refused}");
            }
        }
    }

    #[test]
    fn explained_values_list_proto_names_with_meaning_and_shorthand() {
        let listed: Vec<PossibleValue> = enum_arg_explained("tenure.common.v1.Acknowledgement")
            .possible_values()
            .expect("values")
            .collect();
        assert_eq!(listed.len(), 9, "every value but the zero one");
        let backup = listed
            .iter()
            .find(|value| value.get_name() == "ACKNOWLEDGEMENT_BACKUP")
            .expect("backup");
        let help = backup.get_help().expect("help").to_string();
        assert!(
            help.starts_with("Data to keep has been backed up"),
            "{help}"
        );
        assert!(help.ends_with("(shorthand: backup)"), "{help}");
        // Filters keep their short listing.
        let statuses: Vec<String> = enum_arg("tenure.orders.v1.OrderStatus")
            .possible_values()
            .expect("values")
            .map(|value| value.get_name().to_owned())
            .collect();
        assert!(statuses.contains(&"completed".to_owned()), "{statuses:?}");
    }
}
