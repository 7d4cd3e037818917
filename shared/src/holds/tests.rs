//! The holds domain: ids, tags, pricing lines, what a message covers, settling.
