//! dbctl
