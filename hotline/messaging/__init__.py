"""Outbound messages to callers and recordings from them."""
