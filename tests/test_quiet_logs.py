"""What `llamapipe` keeps out of the terminal: Beam notices that never apply, and the job service's echo
of its workers' own log lines."""
import logging

from pipelines.cli.quiet_logs import drop_known_noise


def _record(name: str, message: str) -> logging.LogRecord:
    return logging.LogRecord(name, logging.WARNING, __file__, 1, message, None, None)


def test_the_worker_echo_and_known_notices_are_dropped_the_rest_kept():
    echo = _record("apache_beam.runners.portability.local_job_service", 'Worker: severity: WARN message: "malformed"')
    assert not drop_known_noise(echo)
    assert not drop_known_noise(_record("root", "apitools not found, and bigquery client libraries ..."))
    assert drop_known_noise(_record("apache_beam.runners.portability.local_job_service", "Job failed: disk full"))
    assert drop_known_noise(_record("llamapipe.source", "malformed input: a.tar at byte 0: not a tar"))
