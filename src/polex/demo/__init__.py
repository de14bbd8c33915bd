"""Synthetic data and the demo federation.

`generate` makes deterministic police records for every database, with the ground truth
(duplicates, spelling variants, networks, stolen documents and objects turning up elsewhere)
that the demo tells and the benchmarks score against; `identifiers` issues the document
numbers, VINs, IMO numbers and serials those records carry, with valid check digits."""
