"""Beam notices that do not apply to llamapipe's runs, dropped from the terminal by one filter."""
import logging

KNOWN_NOISE = (
    "apitools not found",  # BigQuery client libraries: never used
    "No semi_persistent_directory found",  # local workers: nothing is staged
)


def drop_known_noise(record: logging.LogRecord) -> bool:
    message = record.getMessage()
    return not any(noise in message for noise in KNOWN_NOISE)
