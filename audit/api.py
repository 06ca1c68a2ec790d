"""The audit log in the REST API (/api/v1/audit-events/, routed by api.urls), with the review page's filters."""
from drf_spectacular.utils import extend_schema
from rest_framework import generics, permissions, serializers

from .filters import AuditEventFilter
from .models import AuditEvent
from .views import REFUSED, may_review


class IsAuditor(permissions.BasePermission):
    message = REFUSED

    def has_permission(self, request, view):
        return may_review(request)


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["created_at", "action", "outcome", "actor_login", "actor_github_id", "marketplace", "plugin",
                  "skill", "version", "commit", "surface", "client_name", "client_version", "ip", "user_agent",
                  "request_id", "extra"]


@extend_schema(tags=["audit"])
class AuditEventList(generics.ListAPIView):
    """The audit log, newest first, with the review page's filters (auditors)."""

    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    permission_classes = [permissions.IsAuthenticated, IsAuditor]
    queryset = AuditEvent.objects.all()
