"""qrstream: makes, serves and streams QR codes for pairing, cards and verifications."""

__version__ = "0.1.0"
