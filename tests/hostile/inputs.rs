//! Hostile inputs: scenario directories and files, report encodings.
