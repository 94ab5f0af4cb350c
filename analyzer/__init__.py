"""Offline SIP trace analyzer."""

__version__ = "0.1.0"
