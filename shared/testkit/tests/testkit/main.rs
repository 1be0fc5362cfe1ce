//! The testkit's one integration-test binary: each module checks one helper against the real thing.

mod moto;
