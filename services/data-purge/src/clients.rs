//! Peers of data-purge: the `PurgeParticipant` data-owner interface of every service, itself included,
//! which it asks to plan, execute and verify deletions (issue #5).
