"""Intake: the one service every channel calls, and its front doors."""
