"""Beam runner choice and options shared by every llamapipe command.

Unknown command-line flags pass straight to Beam's PipelineOptions. Without `--runner`
(or with DirectRunner) we run Beam's FnApi runner in multi-processing mode, one worker
per core: Beam's DirectRunner would first try the Prism runner, which downloads a binary.
"""
from __future__ import annotations

import os
from typing import Callable, Optional

import apache_beam as beam
from apache_beam.runners.runner import PipelineResult
from apache_beam.options.pipeline_options import (DirectOptions, PipelineOptions, WorkerOptions,
                                                  StandardOptions)

LOCAL_RUNNERS = (None, "DirectRunner", "FnApiRunner")


def unknown_flags(beam_args: list[str]) -> tuple[list[str], list[str]]:
    """(flags in `beam_args` that no Beam options class defines, every flag Beam knows): a mistyped
    llamapipe flag (`--site` for `--sites`) lands here, and Beam itself would only log it and go on."""
    from apache_beam.options.pipeline_options import _BeamArgumentParser

    parser = _BeamArgumentParser(allow_abbrev=False)
    for cls in {str(c): c for c in PipelineOptions.__subclasses__()}.values():
        cls._add_argparse_args(parser)  # what PipelineOptions.get_all_options parses with
    _, unknown = parser.parse_known_args(beam_args)
    flags = [a.split("=", 1)[0] for a in unknown if a.startswith("-")]
    return flags, [o for o in parser._option_string_actions if o.startswith("--")]


def pipeline_options(beam_args: list[str], workers: Optional[int] = None) -> PipelineOptions:
    """PipelineOptions from pass-through flags with local defaults filled in."""
    opts = PipelineOptions(beam_args)
    if opts.view_as(StandardOptions).runner in LOCAL_RUNNERS:
        direct = opts.view_as(DirectOptions)
        if "--direct_running_mode" not in " ".join(beam_args):
            direct.direct_running_mode = "multi_processing"
        if workers is not None:
            direct.direct_num_workers = workers
        elif not direct.direct_num_workers:
            direct.direct_num_workers = os.cpu_count() or 1
    harness = opts.view_as(WorkerOptions)
    if not harness.default_sdk_harness_log_level:
        harness.default_sdk_harness_log_level = "WARNING"
    if not harness.sdk_harness_log_level_overrides:
        # A DoFn's exception reaches the driver, which reports it once (a user error as one line, anything
        # else with its traceback); the worker's own ERROR log of it would print it twice more.
        harness.sdk_harness_log_level_overrides = {"apache_beam.runners.common": "CRITICAL",
                                                   "apache_beam.runners.worker.sdk_worker": "CRITICAL"}
    return opts


def make_pipeline(opts: PipelineOptions) -> beam.Pipeline:
    """A Pipeline on the runner the options name; the FnApi runner for local runs."""
    runner = opts.view_as(StandardOptions).runner
    if runner in LOCAL_RUNNERS:
        from apache_beam.portability.api import beam_provision_api_pb2
        from apache_beam.runners.portability.fn_api_runner import FnApiRunner
        from apache_beam.runners.portability.fn_api_runner.fn_runner import ExtendedProvisionInfo
        from google.protobuf import struct_pb2

        # The local runner hands its worker processes no pipeline options, so they would log at
        # INFO; give them the harness log level (and its overrides) the options ask for.
        worker_options = struct_pb2.Struct()
        harness = opts.view_as(WorkerOptions)
        worker_options.update({"options": {"default_sdk_harness_log_level": harness.default_sdk_harness_log_level,
                                           **({"sdk_harness_log_level_overrides": harness.sdk_harness_log_level_overrides}
                                              if harness.sdk_harness_log_level_overrides else {})}})
        info = ExtendedProvisionInfo(beam_provision_api_pb2.ProvisionInfo(
            retrieval_token="unused-retrieval-token", pipeline_options=worker_options))
        return beam.Pipeline(runner=FnApiRunner(provision_info=info), options=opts)
    return beam.Pipeline(options=opts)


def run(build: Callable[[beam.Pipeline], None], opts: PipelineOptions) -> PipelineResult:
    """Build a pipeline with `build(p)`, run it to the end and return its result (metrics included)."""
    p = make_pipeline(opts)
    build(p)
    result = p.run()
    result.wait_until_finish()
    return result


def counters(result: PipelineResult, namespace: str) -> dict[str, int]:
    """The committed Beam counters of one namespace, by name: how a pipeline reports small results
    (documents sampled per source, tokens per source) back to whoever ran it, on every runner."""
    from apache_beam.metrics.metric import MetricsFilter

    found = result.metrics().query(MetricsFilter().with_namespace(namespace))["counters"]
    return {c.key.metric.name: c.committed for c in found}
