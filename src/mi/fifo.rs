//! fifo
