//! Peers of the accounts service, shaped as domain ports: data-purge, which it asks to schedule a tenant
//! purge after a verified unsubscribe and to cancel an account purge on a reopen (issue #3).
