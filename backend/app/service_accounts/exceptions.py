"""Errors of service accounts."""

from app.core.errors import NotFound


class ServiceAccountNotFound(NotFound):
    detail = "Service account not found."
