//! A seeded simulation of the whole system (issue 14; docs/simulation.md): the real handlers over
//! dynoxide, a simulated clock, and faults the seed chooses. One seed, one run, replayed exactly.

pub mod check;
pub mod faults;
pub mod model;
pub mod ports;
pub mod rng;
pub mod run;
pub mod steps;
pub mod world;
