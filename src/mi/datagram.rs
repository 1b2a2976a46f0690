//! datagram
