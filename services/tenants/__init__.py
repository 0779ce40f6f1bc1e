"""Tenants service: tenant lifecycle, database placement and provisioning."""
