"""The site's wallet forms: shape only; the services check meaning."""

from django import forms

from wallet.models import Withdrawal
from wallet.statement import EAT


class WithdrawalForm(forms.Form):
    currency = forms.ChoiceField(choices=[("UGX", "UGX"), ("USD", "USD")])
    amount = forms.DecimalField(min_value=0, max_digits=38, decimal_places=18, label="Amount")
    method = forms.ChoiceField(
        choices=Withdrawal.Method.choices, widget=forms.RadioSelect, label="To"
    )
    phone_number = forms.CharField(
        required=False, max_length=32, label="Mobile money number (MTN or Airtel)"
    )
    bank_name = forms.CharField(required=False, max_length=100, label="Bank")
    account_name = forms.CharField(required=False, max_length=150, label="Account name")
    account_number = forms.CharField(required=False, max_length=40, label="Account number")

    def destination(self) -> dict:
        data = self.cleaned_data
        if data["method"] == Withdrawal.Method.MOBILE_MONEY:
            return {"phone_number": data["phone_number"]}
        return {k: data[k] for k in ("bank_name", "account_name", "account_number")}


class CodeForm(forms.Form):
    code = forms.CharField(
        min_length=6,
        max_length=6,
        label="6-digit code",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )


class PayoutNumberForm(forms.Form):
    phone_number = forms.CharField(
        label="Mobile money number (MTN or Airtel)",
        max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )


class TopUpForm(forms.Form):
    method = forms.ChoiceField(
        label="How you pay",
        choices=[("mobile_money", "Mobile money (UGX)"), ("bank_deposit", "Bank deposit")],
        widget=forms.RadioSelect,
        initial="mobile_money",
    )
    currency = forms.ChoiceField(label="Currency", choices=[("UGX", "UGX"), ("USD", "USD")])
    amount = forms.DecimalField(label="Amount you pay (fee included)", min_value=0, max_digits=20)
    phone_number = forms.CharField(
        label="Mobile money number",
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )
    idempotency_key = forms.CharField(required=False, widget=forms.HiddenInput, max_length=128)

    def payment_details(self) -> dict:
        if self.cleaned_data.get("method") == "mobile_money":
            return {"phone_number": self.cleaned_data.get("phone_number", "")}
        return {}


class StatementForm(forms.Form):
    """Sent straight to the statement API (GET), which checks the range."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from django.utils import timezone

        today = timezone.localtime(timezone.now(), EAT).date()
        self.fields["from"] = forms.DateField(
            label="From",
            initial=today.replace(day=1),
            widget=forms.DateInput(attrs={"type": "date"}),
        )
        self.fields["to"] = forms.DateField(
            label="To", initial=today, widget=forms.DateInput(attrs={"type": "date"})
        )
        self.fields["format"] = forms.ChoiceField(
            label="File", choices=[("csv", "CSV (spreadsheet)"), ("json", "JSON")], initial="csv"
        )
