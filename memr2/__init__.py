"""memr2: the command line (``memr2 envs | play | eval | train | study | leaderboard | data``) and run-result files."""

__version__ = "0.1.0"
