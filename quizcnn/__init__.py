"""quizcnn: spaced-repetition drills for deep-learning interviews, with runnable proofs."""

__version__ = "0.1.0"
