"""Staff back office for people: search, roles (groups), activation.

Email verification is not editable here: an address counts as verified only
when its owner typed the emailed code (superusers made by createsuperuser
are the exception).
"""

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from accounts import staff_otp
from accounts.models import User
from accounts.roles import ADMIN, user_has_role


class UserCreateForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)
        field_classes = {"email": forms.EmailField}


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"
        field_classes = {"email": forms.EmailField}


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreateForm
    list_display = ("email", "full_name", "email_verified_at", "is_active", "is_staff")
    list_filter = ("is_active", "is_staff", "is_superuser", "groups")
    search_fields = ("email", "full_name")
    ordering = ("-date_joined",)
    readonly_fields = ("email_verified_at", "date_joined", "last_login", "second_factor")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Person", {"fields": ("full_name",)}),
        ("Verification", {"fields": ("email_verified_at",)}),
        ("Back-office sign-in", {"fields": ("second_factor",)}),
        ("Roles and access", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Dates", {"fields": ("date_joined", "last_login")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "usable_password", "password1", "password2"),
            },
        ),
    )
    filter_horizontal = ("groups",)

    @admin.display(description="Authenticator app")
    def second_factor(self, obj):
        if obj.pk is None or not obj.is_staff:
            return "Not staff: no back-office sign-in."
        device = staff_otp.staff_totp_device(obj)
        state = f"Set up ({device.name})" if device else "Not set up: cannot sign in to the admin"
        return format_html(
            '{} &nbsp;<a class="button" href="{}">New enrolment link</a>',
            state,
            reverse("admin:accounts_user_totp_enrol", args=[obj.pk]),
        )

    def get_urls(self):
        return [
            path(
                "<int:pk>/totp-enrol/",
                self.admin_site.admin_view(self.totp_enrol_view),
                name="accounts_user_totp_enrol",
            ),
            *super().get_urls(),
        ]

    def totp_enrol_view(self, request, pk):
        """An admin gives a staff member (new, or who lost their phone) a
        one-time link to set up their authenticator app."""
        if not user_has_role(request.user, ADMIN):
            raise PermissionDenied
        user = get_object_or_404(User, pk=pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "person": user,
            "title": f"Authenticator enrolment for {user.email}",
        }
        if request.method == "POST":
            try:
                token = staff_otp.staff_totp_enrolment_start(user=user)
            except staff_otp.EnrolmentInvalid as exc:
                context["error"] = exc.message
            else:
                context["link"] = request.build_absolute_uri(
                    reverse("admin:staff_totp_enrol", args=[token])
                )
        return TemplateResponse(request, "admin/accounts/user/totp_enrol.html", context)
