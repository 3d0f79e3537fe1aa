"""Staff back office for people: search, roles (groups), activation.

Changes of access (active, staff, superuser, roles), of the email address
and passwords set here are recorded in the audit trail, in the same
transaction as the change. A changed address is unverified until its owner
enters the code sent to it.

Email verification is not editable here: an address counts as verified only
when its owner typed the emailed code (superusers made by createsuperuser
are the exception).
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from accounts import staff_otp
from accounts.models import User
from accounts.roles import ADMIN, user_has_role
from accounts.services import (
    user_access_change_record,
    user_access_snapshot,
    user_email_changed_by_staff,
    user_erase,
    user_password_set_by_staff_record,
)
from dtexchange.client_ip import client_ip
from dtexchange.errors import DomainError


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
    actions = ["erase_personal_data"]

    @admin.action(description="Close the account and erase the personal data")
    def erase_personal_data(self, request, queryset):
        for user in queryset:
            try:
                user_erase(user=user, password=None, actor=request.user)
            except DomainError as exc:
                self.message_user(request, f"User {user.pk}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"User {user.pk}: account closed, personal data erased.")

    def save_model(self, request, obj, form, change):
        # The admin saves the row here and the roles (m2m) in save_related;
        # the state before is read from the database before either.
        stored = User.objects.get(pk=obj.pk) if change else None
        request._access_before = user_access_snapshot(user=stored) if stored else None
        super().save_model(request, obj, form, change)
        if stored is not None and stored.email != obj.email:
            user_email_changed_by_staff(
                actor=request.user, user=obj, old_email=stored.email, ip=client_ip(request)
            )

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        user_access_change_record(
            actor=request.user,
            user=form.instance,
            before=request._access_before,
            ip=client_ip(request),
        )

    def user_change_password(self, request, id, form_url=""):
        with transaction.atomic():
            response = super().user_change_password(request, id, form_url)
            if request.method == "POST" and response.status_code == 302:
                user_password_set_by_staff_record(
                    actor=request.user, user=User.objects.get(pk=id), ip=client_ip(request)
                )
        return response

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
