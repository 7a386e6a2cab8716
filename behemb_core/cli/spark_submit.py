"""Entry script for ``spark-submit``: runs the ``prepare`` command inside the cluster's driver.

    spark-submit --master yarn --py-files behemb_core.zip behemb_core/cli/spark_submit.py \\
        --input s3a://logs/events/ --work-dir s3a://scratch/behemb/2026-11-30 --window 5

The arguments are ``python -m behemb_core prepare``'s (without ``--master``: spark-submit sets it). The job uses
Spark SQL expressions only (no Python UDFs), so executors need no Python packages; the driver needs behemb_core
and its requirements. It lives with the command line (a front end), not in the engine: ``behemb_core.spark`` never
imports the CLI.
"""

from __future__ import annotations

import sys

from behemb_core.cli import main

if __name__ == "__main__":
    sys.exit(main(["prepare", *sys.argv[1:]]))
