"""Federation: links between nodes over mutual TLS with pinned certificates and signed requests,
relaying messages, fanning out searches and matching records across linked partners."""
