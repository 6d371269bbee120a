"""Quality: scoring (reward), ranking search hits, test-time scaling, the benchmark harness."""
