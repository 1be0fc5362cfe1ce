//! Peers of the orders service, shaped as the saga engine's step ports: accounts, provisioning and
//! data-purge. They attach the step's idempotency key, the tenant and the trace context (issue #6).
