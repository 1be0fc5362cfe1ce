//! The service's decisions, free of transport and storage: validating newtypes, state machines, use
//! cases and the error vocabulary. Nothing here names tonic, prost or sea-orm. The use cases arrive with
//! issue #6; shared value types come from `tenure-domain`.
