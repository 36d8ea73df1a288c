"""The staff dashboard: the queue, the case page and the actions on a case."""

from hotline.dashboard.views import bp

__all__ = ["bp"]
