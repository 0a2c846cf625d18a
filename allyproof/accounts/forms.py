from __future__ import annotations

from django import forms

from .models import Role


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email", max_length=254)
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.MEMBER)


class TokenForm(forms.Form):
    name = forms.CharField(label="Token name", max_length=80,
                           help_text="What will use it, e.g. \"CI uploads for ACME\".")


class OrganizationForm(forms.Form):
    name = forms.CharField(label="Organization name", max_length=120)
    time_zone = forms.CharField(
        label="Time zone", max_length=64,
        help_text="Every time AllyProof shows your people is in this zone, with its name (e.g. Europe/Paris).",
        widget=forms.TextInput(attrs={"list": "time-zones", "autocomplete": "off", "spellcheck": "false"}),
    )
