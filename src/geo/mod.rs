pub mod gravity;
pub mod propagate;
