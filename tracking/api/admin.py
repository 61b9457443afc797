"""API tokens in Django's admin: an administrator issues and revokes them for any user."""

from django.contrib import admin, messages
from django.db.models import Q
from django.utils import timezone

from tracking.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created", "last_used", "revoked"]
    list_filter = [("revoked", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "user__username"]
    list_select_related = ["user"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["user", "name"]
        return ["user", "name", "prefix", "created", "last_used", "revoked"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["user", "prefix", "created", "last_used", "revoked"]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        secret = obj.set_new_secret()
        super().save_model(request, obj, form, change)
        # The only time anyone sees the secret: only its hash is stored.
        self.message_user(
            request,
            f"The secret of token “{obj.name}” for {obj.user}, shown this once: {secret}",
            messages.WARNING,
        )

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        revoked = queryset.filter(Q(revoked__isnull=True)).update(revoked=timezone.now())
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)
