#!/bin/bash
# The edge container: render the Envoy config from the environment, then become Envoy.
#
#   tenantmesh-envoy [render options...] [-- extra envoy options...]
#   tenantmesh-envoy --services tenants,auth -- --component-log-level upstream:debug
#
# Render options go to `python -m services.mesh.render` (e.g. --services); upstream
# addresses come from TENANTMESH_<SERVICE>_ADDR, the rest from TENANTMESH_EDGE_*.
#
# Envoy sets PR_SET_PDEATHSIG (it dies with its parent), so it must not be the child
# of a short-lived script: `exec` replaces this shell with Envoy (the envoy wrapper
# execs the real binary in turn), so Envoy keeps this PID, is PID 1 of the container
# (or the child of the container's init) and receives SIGTERM directly.
set -euo pipefail

share="${ENVOY_SHARE_DIR:-/opt/tenantmesh/share}"
config="${ENVOY_CONFIG_PATH:-/tmp/envoy/envoy.yaml}"

render_args=()
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
    render_args+=("$1")
    shift
done
[ "${1:-}" = "--" ] && shift

# The static pages (/openapi.json, /docs) are written next to the config; Envoy answers them.
python -m services.mesh.render \
    --descriptor "$share/descriptor.binpb" \
    --template-dir "$share/envoy" \
    --openapi "$share/openapi.json" \
    --swagger-ui "$share/swagger-ui" \
    --static-dir "$(dirname "$config")/static" \
    --output "$config" \
    "${render_args[@]}"

# The renderer has already validated TENANTMESH_EDGE_CONCURRENCY (default 1 worker).
# Hot restart is not used in containers (a rollout replaces the pod), so no shared memory.
# On SIGTERM Envoy exits at once; draining happens before, in the preStop hook
# (tenantmesh-healthcheck envoy-drain), within --drain-time-s.
exec envoy \
    -c "$config" \
    --concurrency "${TENANTMESH_EDGE_CONCURRENCY:-1}" \
    --disable-hot-restart \
    --drain-time-s 15 \
    --drain-strategy immediate \
    --log-level info \
    "$@"
