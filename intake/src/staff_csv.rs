//! TODO(intake): see lib.rs.
