"""Beam notices that do not apply to llamapipe's runs, dropped from the terminal by one filter."""
import logging

KNOWN_NOISE = (
    "apitools not found",  # BigQuery client libraries: never used
    "No semi_persistent_directory found",  # local workers: nothing is staged
)
# The local job service re-logs every record of its worker processes, which print it themselves.
WORKER_ECHO = ("apache_beam.runners.portability.local_job_service", "Worker: severity:")


def drop_known_noise(record: logging.LogRecord) -> bool:
    message = record.getMessage()
    if record.name == WORKER_ECHO[0] and message.startswith(WORKER_ECHO[1]):
        return False
    return not any(noise in message for noise in KNOWN_NOISE)
