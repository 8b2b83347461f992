"""memr2: the command line (``memr2 envs | play | eval | train | leaderboard | data``) and run-result files."""

__version__ = "0.1.0"
