"""Who may see what: accounts, principals and the one policy decision point."""
