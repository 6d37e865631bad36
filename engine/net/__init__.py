"""Outbound network access on a client's behalf (callbacks): the rules and the guarded client."""
