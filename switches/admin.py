"""Stop switches in the back office, for the admin role: throw one (the add
form), ask to lift it and, as another admin, confirm the lift (actions).
Adapters over switches.services; nothing here writes a switch itself."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from accounts.roles import ADMIN, user_has_role
from dtexchange.errors import DomainError
from switches import services
from switches.models import AccountFreeze, MethodPause


class _SwitchAdmin(admin.ModelAdmin):
    list_filter = ("created_at", "lifted_at")
    actions = ("lift_request", "lift_confirm")
    readonly_after = (
        "reason",
        "created_by",
        "created_at",
        "lift_requested_by",
        "lift_requested_at",
        "lifted_by",
        "lifted_at",
    )

    def _admin(self, request) -> bool:
        return bool(request.user.is_active and request.user.is_staff) and user_has_role(
            request.user, ADMIN
        )

    def has_module_permission(self, request):
        return self._admin(request)

    def has_view_permission(self, request, obj=None):
        return self._admin(request)

    def has_add_permission(self, request):
        return self._admin(request)

    def has_change_permission(self, request, obj=None):
        return False  # a switch changes only through its actions

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_after if obj else ()

    def _each(self, request, queryset, service, done: str):
        for switch in queryset:
            try:
                service(actor=request.user, switch=switch)
            except DomainError as exc:
                self.message_user(request, f"{switch}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"{switch}: {done}", messages.SUCCESS)

    @admin.action(description="Ask to lift (another admin confirms)")
    def lift_request(self, request, queryset):
        self._each(request, queryset, services.switch_lift_request, "lift asked for")

    @admin.action(description="Confirm the lift another admin asked for")
    def lift_confirm(self, request, queryset):
        self._each(request, queryset, services.switch_lift_confirm, "lifted")

    def save_model(self, request, obj, form, change):
        try:
            created = self.throw(request, form.cleaned_data)
        except DomainError as exc:
            # Shown on the list; nothing was written.
            self.message_user(request, exc.message, messages.ERROR)
            obj.pk = None
            return
        obj.pk = created.pk
        obj.created_at = created.created_at

    def response_add(self, request, obj, post_url_continue=None):
        if obj.pk is None:
            from django.http import HttpResponseRedirect

            return HttpResponseRedirect(request.path)
        return super().response_add(request, obj, post_url_continue)

    def log_addition(self, request, obj, message):
        return None  # the audit trail records it (switches.services)


@admin.register(AccountFreeze)
class AccountFreezeAdmin(_SwitchAdmin):
    list_display = ("user", "reason", "created_by", "created_at", "lift_requested_by", "lifted_at")
    search_fields = ("user__email", "reason")
    raw_id_fields = ("user",)
    fields = ("user", "reason")
    list_select_related = ("user", "created_by", "lift_requested_by")

    def get_fields(self, request, obj=None):
        return ("user", *self.readonly_after) if obj else self.fields

    def throw(self, request, data):
        return services.account_freeze(actor=request.user, user=data["user"], reason=data["reason"])


class MethodPauseForm(forms.ModelForm):
    method = forms.ChoiceField(choices=())

    class Meta:
        model = MethodPause
        fields = ("method", "direction", "reason")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from trading import payment_methods

        self.fields["method"].choices = [(m.code, m.name) for m in payment_methods.all_methods()]


@admin.register(MethodPause)
class MethodPauseAdmin(_SwitchAdmin):
    form = MethodPauseForm
    list_display = ("method", "direction", "reason", "created_by", "created_at", "lifted_at")
    list_select_related = ("created_by",)

    def get_fields(self, request, obj=None):
        return ("method", "direction", *self.readonly_after) if obj else MethodPauseForm.Meta.fields

    def get_readonly_fields(self, request, obj=None):
        return ("method", "direction", *self.readonly_after) if obj else ()

    def throw(self, request, data):
        return services.method_pause(
            actor=request.user,
            method=data["method"],
            direction=data["direction"],
            reason=data["reason"],
        )
