"""Signing keys: the asymmetric keys that sign access tokens, their rotation, and what other
services read to verify them (GET /.well-known/jwks.json and the authorization server
metadata)."""
