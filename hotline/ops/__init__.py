"""Operations: key rotation and data retention, with their ``flask`` command groups."""
