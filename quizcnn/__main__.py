"""`python -m quizcnn`: the same as the `quizcnn` console script."""

from quizcnn.entry import main

main()
