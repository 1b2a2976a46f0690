//! osipsctlrc reader
