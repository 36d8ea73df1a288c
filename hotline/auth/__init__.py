"""Sign-in, two-factor authentication and user accounts."""
