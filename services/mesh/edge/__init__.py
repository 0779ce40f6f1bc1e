"""The edge (Envoy): its settings, its routes from the descriptor set, token checks, its own
replies and the rendering of its configuration. Import from here; the modules are private detail."""

from services.mesh.edge.bootstrap import render_envoy_config
from services.mesh.edge.config import (
    DEFAULT_DESCRIPTOR_PATH,
    DEFAULT_TEMPLATE_DIR,
    DEFAULT_TEMPLATE_NAME,
    DEFAULT_TLS_DIR,
    EdgeSettings,
    GlobalRateLimit,
    Upstream,
)
from services.mesh.edge.jwt import EdgeJwt, JwtExemption, edge_jwt, jwt_exemptions
from services.mesh.edge.mesh_tls import EdgeMeshTls, edge_mesh_tls, sds_documents, write_sds_documents
from services.mesh.edge.replies import (
    GRPC_METHOD_NOT_ALLOWED,
    LOCAL_REPLIES,
    EdgeReason,
    GrpcLocalReply,
    JwtLocalReply,
    jwt_local_replies,
)
from services.mesh.edge.routes import (
    EdgeApi,
    GrpcRoute,
    HttpBinding,
    MatchKind,
    MethodRoute,
    RestRoute,
    RoutedMethod,
    grpc_services,
    http_bindings,
    literal_prefix,
    load_descriptor_set,
    load_edge_api,
    rest_routes,
    template_regex,
)
from services.runtime.interceptors.identity import TOKEN_TENANT_HEADER

__all__ = [
    "DEFAULT_DESCRIPTOR_PATH",
    "DEFAULT_TEMPLATE_DIR",
    "DEFAULT_TEMPLATE_NAME",
    "DEFAULT_TLS_DIR",
    "GRPC_METHOD_NOT_ALLOWED",
    "LOCAL_REPLIES",
    "TOKEN_TENANT_HEADER",
    "EdgeApi",
    "EdgeJwt",
    "EdgeMeshTls",
    "EdgeReason",
    "EdgeSettings",
    "GlobalRateLimit",
    "GrpcLocalReply",
    "GrpcRoute",
    "HttpBinding",
    "JwtExemption",
    "JwtLocalReply",
    "MatchKind",
    "MethodRoute",
    "RestRoute",
    "RoutedMethod",
    "Upstream",
    "edge_jwt",
    "edge_mesh_tls",
    "grpc_services",
    "http_bindings",
    "jwt_exemptions",
    "jwt_local_replies",
    "literal_prefix",
    "load_descriptor_set",
    "load_edge_api",
    "render_envoy_config",
    "rest_routes",
    "sds_documents",
    "template_regex",
    "write_sds_documents",
]
