"""The shared runtime every Tenantmesh service is built on.

Configuration, per-call context, the interceptor chain, typed errors with
rich statuses, database routing and migrations, events, outgoing channels and
server bootstrap live here once, so a service folder holds only its domain.
"""
