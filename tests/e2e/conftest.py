"""Shared by the browser tests: one Playwright driver per test module."""
import pytest


@pytest.fixture(scope="module")
def playwright():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p
