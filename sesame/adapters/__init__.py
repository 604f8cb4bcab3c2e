"""Adapters: the implementations of the ports (SQL, Redis, SMTP, SMS, letters, OCR, storage)."""
