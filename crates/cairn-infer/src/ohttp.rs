//! Oblivious HTTP (RFC 9458) encapsulation (filled in next).
