"""The global rate limit: Envoy's rate limit service API, counted in Redis for every edge at once."""
