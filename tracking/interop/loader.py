"""Importing Auptimizer 2.0, which is an optional extra of aupsite.

Auptimizer 2.0 cannot be imported on current Python unless TensorFlow is installed:
``aup/__init__.py`` imports ``aup.compression``, whose TensorFlow module catches the
ImportError of ``import tensorflow`` and then reads ``tf.__version__`` anyway, so
``import aup`` ends in ``NameError: name 'tf' is not defined``.

We never patch Auptimizer's files. When TensorFlow is missing, we put ``None`` in
``sys.modules`` for that one module before importing ``aup``: Python's import system
then raises ImportError for it, which ``aup.compression.Compressor`` catches as it
does for a missing PyTorch. Only TensorFlow model compression (which needs TensorFlow
anyway) is lost; with TensorFlow installed nothing is changed.
"""

import importlib
import importlib.util
import logging
import sys

from aupsite import checkout_dir

SUPPORTED_VERSION = "2.0"
# How to add the extra: in a checkout its requirements file, installed the package's extra.
INSTALL_COMMAND = (
    ".venv/bin/pip install -r requirements-auptimizer.txt" if checkout_dir() is not None
    else "pip install 'aupsite[auptimizer]'"
)
TENSORFLOW_COMPRESSION = "aup.compression.tensorflow"


class AuptimizerMissing(ImportError):
    """Auptimizer (or a package it needs) is not installed; the message says how to install it."""


def _tensorflow_installed():
    try:
        return importlib.util.find_spec("tensorflow") is not None
    except (ImportError, ValueError):
        return False


def import_auptimizer():
    """Import and return the ``aup`` package, or raise AuptimizerMissing with install advice."""
    if not _tensorflow_installed():
        sys.modules.setdefault(TENSORFLOW_COMPRESSION, None)
    # Without TensorFlow and PyTorch, aup.compression warns at import about both; aupsite
    # never compresses models, so those two warnings would only mislead.
    compression_log = logging.getLogger("aup.compression.Compressor")
    level = compression_log.level
    compression_log.setLevel(logging.ERROR)
    try:
        aup = importlib.import_module("aup")
    except ModuleNotFoundError as exc:
        if exc.name == "aup":
            raise AuptimizerMissing(
                f"Auptimizer is not installed. Install it (an optional extra of aupsite) with: {INSTALL_COMMAND}"
            ) from None
        raise AuptimizerMissing(
            f"Auptimizer is installed but cannot be imported: the package {exc.name!r} it needs is missing. "
            f"Install what it needs with: {INSTALL_COMMAND}"
        ) from None
    finally:
        compression_log.setLevel(level)
    version = getattr(aup, "__version__", None)
    if version != SUPPORTED_VERSION:
        # The runner relies on 2.0's Experiment internals (pending_jobs, the resource
        # manager's lock and executor); another version may differ.
        raise AuptimizerMissing(
            f"aupsite runs Auptimizer {SUPPORTED_VERSION}, but Auptimizer {version} is installed. "
            f"Install the supported version with: {INSTALL_COMMAND}"
        )
    return aup
