//! Intake: the part of the system people meet before a certificate exists (`domain.md`).
//!
//! People register online — themselves and relatives under one phone verified by a one-time code, or
//! staff lists uploaded by their organisation. Sites publish capacity; a scheduling round invites the
//! waiting registrations the priority policy ranks first — never first come, first served. On the day
//! sites check people in, screen them and record their doses; the registry confirms each attested dose
//! and an outbox delivers it to the issuer's `POST /internal/v1/dose-confirmations`, over HTTP even in
//! one process (the same API a real registry calls). People hear of each step through a notification
//! outbox.
//!
//! Two layers, as in the issuer. The pure one takes the clock as an argument and does no I/O:
//! [`registration`] (the form and its validation), [`policy`] (priority policies as versioned data),
//! [`scheduling`] (hard filters, ranking, the lottery key), [`screening`] (answers and vital signs → an
//! outcome), [`vaccines`] (products, series and intervals), [`notification`] (message texts),
//! [`staff_csv`] (organisations' uploads), [`confirmation`] (the issuer's request body). The service
//! layer owns storage and network: [`store`] (SQLite or PostgreSQL through the `storage` crate),
//! [`api`] (the axum routers), [`delivery`] (the issuer outbox's worker) and [`notify`] (the
//! notification outbox's worker and its pluggable sender), behind the default feature `service`.

#[cfg(feature = "service")]
pub mod api;
pub mod confirmation;
#[cfg(feature = "service")]
pub mod delivery;
pub mod notification;
#[cfg(feature = "service")]
pub mod notify;
pub mod policy;
pub mod registration;
pub mod scheduling;
pub mod screening;
pub mod staff_csv;
#[cfg(feature = "service")]
pub mod store;
pub mod vaccines;
