"""The server interceptor chain, one concern per module.

Order (outermost first): request id → telemetry → error mapping →
authentication → tenant → authorization → validation → handler.
Error mapping sits just inside telemetry so that errors raised by any later
stage, not only by handlers, reach the caller as rich statuses and are counted.
"""

from services.runtime.interceptors.chain import CallStage, IncomingCall, PipelineInterceptor

__all__ = ["CallStage", "IncomingCall", "PipelineInterceptor"]
