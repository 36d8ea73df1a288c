"""Admin pages: user accounts, the on-duty roster and API tokens (admin role only)."""
