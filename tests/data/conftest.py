"""Fixtures for the data tests: no network, and the CI rule for optional data files."""

import os

import keras
import pytest


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """Make Keras' dataset downloaders fail at once, as on a machine without network."""

    def refuse_download():
        raise OSError("network access is disabled in the kgen data tests")

    for name in ("mnist", "fashion_mnist"):
        monkeypatch.setattr(getattr(keras.datasets, name), "load_data", refuse_download)


@pytest.fixture
def require_data():
    """``require_data(available, what)``: skip locally, but fail in CI (``CI`` set), when a
    dataset that the test needs is not installed -- CI must never skip silently."""

    def require(available, what):
        if available:
            return
        message = f"{what} is not installed on this machine"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must provide it.")
        pytest.skip(message)

    return require
