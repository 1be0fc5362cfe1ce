//! The contracts' descriptors at run time: which prost type is which protobuf message, enum values
//! as names on the command line and in output, and the canonical proto3 JSON of any message.

use std::sync::OnceLock;

use anyhow::Context as _;
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser as _};
use prost_reflect::{DescriptorPool, DynamicMessage, EnumDescriptor, SerializeOptions};
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
    accounts::Tenant => "tenure.accounts.v1.Tenant",
    accounts::User => "tenure.accounts.v1.User",
    accounts::AwsAccount => "tenure.accounts.v1.AwsAccount",
    accounts::CreateTenantResponse => "tenure.accounts.v1.CreateTenantResponse",
    accounts::ListTenantsResponse => "tenure.accounts.v1.ListTenantsResponse",
    accounts::UnsubscribeTenantResponse => "tenure.accounts.v1.UnsubscribeTenantResponse",
    accounts::ListUsersResponse => "tenure.accounts.v1.ListUsersResponse",
    accounts::ListAccountsResponse => "tenure.accounts.v1.ListAccountsResponse",
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

/// How output shows the value `number` of an enum: its name without the shared prefix (`COMPLETED`).
pub(crate) fn enum_label(descriptor: &EnumDescriptor, number: i32) -> String {
    match descriptor.get_value(number) {
        Some(value) => {
            let prefix = value_prefix(descriptor);
            value
                .name()
                .strip_prefix(prefix.as_str())
                .unwrap_or(value.name())
                .to_owned()
        }
        None => number.to_string(),
    }
}

/// A command-line value parser for the enum `full_name`: its values in kebab case without the shared
/// prefix (`--status completed`), the never-valid zero value left out, parsed to the wire number.
pub(crate) fn enum_arg(
    full_name: &'static str,
) -> impl clap::builder::TypedValueParser<Value = i32> {
    let descriptor = pool()
        .ok()
        .and_then(|pool| pool.get_enum_by_name(full_name));
    let choices: Vec<(String, i32)> = descriptor
        .map(|descriptor| {
            let prefix = value_prefix(&descriptor);
            descriptor
                .values()
                .filter(|value| value.number() != 0)
                .map(|value| {
                    let short = value
                        .name()
                        .strip_prefix(prefix.as_str())
                        .unwrap_or(value.name());
                    (short.to_ascii_lowercase().replace('_', "-"), value.number())
                })
                .collect()
        })
        .unwrap_or_default();
    let possible: Vec<PossibleValue> = choices
        .iter()
        .map(|(name, _)| PossibleValue::new(name.clone()))
        .collect();
    PossibleValuesParser::new(possible).map(move |chosen: String| {
        choices
            .iter()
            .find(|(name, _)| *name == chosen)
            .map_or(0, |(_, number)| *number)
    })
}

/// The wire number of the enum value `short` (as [`enum_arg`] spells it), for code that names values.
#[cfg(test)]
fn enum_number(full_name: &str, short: &str) -> Option<i32> {
    let descriptor = pool().ok()?.get_enum_by_name(full_name)?;
    let wanted = format!(
        "{}{}",
        value_prefix(&descriptor),
        short.to_ascii_uppercase().replace('-', "_")
    );
    descriptor
        .get_value_by_name(&wanted)
        .map(|value| value.number())
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
    fn enum_values_are_short_names_both_ways() {
        let descriptor = pool()
            .expect("pool")
            .get_enum_by_name("tenure.orders.v1.OrderStatus")
            .expect("enum");
        assert_eq!(
            enum_label(&descriptor, orders::OrderStatus::Completed as i32),
            "COMPLETED"
        );
        assert_eq!(enum_label(&descriptor, 99), "99");
        assert_eq!(
            enum_number("tenure.common.v1.Acknowledgement", "email-not-reusable"),
            Some(tenure_proto::common::v1::Acknowledgement::EmailNotReusable as i32)
        );
    }
}
