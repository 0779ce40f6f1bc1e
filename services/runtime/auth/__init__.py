"""Token verification for every service: claims, JWKS cache, revocation list, authenticator."""
