"""Adapters to the services pdfq stands on: object storage, the state store, the queue."""
