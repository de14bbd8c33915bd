"""Cross-matching: hits between owners, multiple identities, deconfliction."""
