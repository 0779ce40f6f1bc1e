"""Auth service: users, memberships, roles, sessions and tokens, API keys, audit."""
