"""Helpers shared by the API tests."""

from __future__ import annotations


def problem(response, status: int) -> str:
    """Assert ``response`` is a problem+json error with ``status``; return its detail."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) >= {"type", "title", "status", "detail"} and body["status"] == status
    assert "Traceback" not in response.text
    return body["detail"]
