"""Workers' signed income statements: build, sign (Ed25519), verify."""
