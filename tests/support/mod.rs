//! Fixtures shared by the integration tests.

pub mod second_engine;
