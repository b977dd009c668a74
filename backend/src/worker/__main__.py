"""`python -m src.worker`: the worker supervisor (see `src.worker.supervisor`)."""

from src.worker.supervisor import main

main()
