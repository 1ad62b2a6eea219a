//! A hostile agent and a hostile judge: credentials, deadlines, bounded bodies, wire oddities.
