"""The benchmark harness of issue 5: `make bench` (1M products) and `make bench-smoke` (10 000)."""
