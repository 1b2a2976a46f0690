//! menuconfig
