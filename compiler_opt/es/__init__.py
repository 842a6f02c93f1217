"""Evolution strategies: a blackbox learner over the policy's flat parameters, on the same jobs, pool and saved form."""
