//! End-to-end tests of the events instance.
