"""The double-entry ledger: repository (all SQL), service (post, check), pay policy settings."""
