//! Views (in progress).
