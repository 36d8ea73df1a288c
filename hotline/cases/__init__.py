"""Case workflow (statuses and transitions), vocabularies and references."""
