//! A hostile run: signals, panics, absurd settings, secrets echoed back.
