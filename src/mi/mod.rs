//! mi
