"""The registry service: catalogue, instances and health, discovery, tenant enablement."""
