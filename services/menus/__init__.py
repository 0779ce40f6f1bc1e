"""The menus service: each user's navigation, computed from what the tenant enabled and what the user may do."""
