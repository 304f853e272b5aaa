"""The ``cenns-bayes`` command line: argument parsing and wiring of the layers, nothing else."""
