"""Authorization you can see: the policy (who may call which route) as data, and why a caller
was or would be refused."""
