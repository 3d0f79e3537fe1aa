"""Forms of the customer site's account pages. They check shape; the account
services (accounts.services) decide."""

from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.forms import AuthenticationForm

from accounts.models import User


class LoginForm(AuthenticationForm):
    username = forms.EmailField(
        label="Email address",
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    error_messages = {
        "invalid_login": (
            "That email and password don't match an account. Check both and try again."
        ),
        "inactive": "This account is closed. Contact support if you think that's a mistake.",
    }


class SignupForm(forms.Form):
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    password = forms.CharField(
        label="Password",
        strip=False,
        max_length=128,
        help_text="At least 8 characters; not only numbers, not a common password.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


class VerifyEmailForm(forms.Form):
    """Six one-digit boxes (``d1``..``d6``) or one pasted ``code``; either way
    the cleaned ``code`` is the six digits."""

    email = forms.EmailField(label="Email address", max_length=254)
    code = forms.CharField(required=False, max_length=12)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for i in range(1, 7):
            self.fields[f"d{i}"] = forms.CharField(required=False, max_length=12)

    def clean(self):
        cleaned = super().clean()
        pasted = (cleaned.get("code") or "").strip()
        boxes = "".join((cleaned.get(f"d{i}") or "").strip() for i in range(1, 7))
        code = "".join(ch for ch in (pasted or boxes) if not ch.isspace())
        if len(code) != 6 or not code.isdigit():
            raise forms.ValidationError("Enter the 6-digit code from the email.", code="format")
        cleaned["code"] = code
        return cleaned

    def digits(self) -> list[str]:
        """What to show back in the boxes after an error."""
        data = self.data if self.is_bound else {}
        return [str(data.get(f"d{i}", ""))[:1] for i in range(1, 7)]


class ResendCodeForm(forms.Form):
    email = forms.EmailField(max_length=254)


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Django's reset form, but a locked account ("this wasn't me": its
    password made unusable, accounts.security) gets the reset email too: the
    reset is how its owner unlocks it."""

    def get_users(self, email):
        from accounts.models import User

        return User.objects.filter(email__iexact=email, is_active=True)


class NameForm(forms.Form):
    full_name = forms.CharField(
        label="Your name",
        required=False,
        max_length=User._meta.get_field("full_name").max_length,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )


class PasswordChangeForm(forms.Form):
    current_password = forms.CharField(
        label="Current password",
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    new_password = forms.CharField(
        label="New password",
        strip=False,
        max_length=128,
        help_text="At least 8 characters; not only numbers, not a common password.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    new_password_again = forms.CharField(
        label="New password, again",
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        cleaned = super().clean()
        new, again = cleaned.get("new_password"), cleaned.get("new_password_again")
        if new and again and new != again:
            self.add_error("new_password_again", "The two new passwords are not the same.")
        return cleaned
