//! The `homeostat` command's parts, as a library so tests can drive them.

pub mod demo;
pub mod incidents;
pub mod models;
pub mod nab;
pub mod sim_cmd;
pub mod view;
